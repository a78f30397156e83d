//! A frame's fields as layers of (field, values), in registry order: the `-V` tree, `-T json`
//! and the UI's detail pane are all made from this one walk over the field registry.

use std::io::Write;
use std::ops::ControlFlow;

use wiresift_field::{Display, FieldDef, FieldKind, FieldSource, Registry, Value};

/// Formats one value as tshark prints it in `-T fields` and `-T json`.
pub fn format_value(out: &mut Vec<u8>, def: &FieldDef, v: &Value<'_>) {
    match (def.name, v) {
        ("frame.time", Value::Time(ns)) => {
            out.extend_from_slice(format_abs_time(*ns).as_bytes());
        }
        (_, Value::Protocol(_)) => {}
        _ => {
            let _ = write!(
                out,
                "{}",
                Display {
                    value: v,
                    kind: def.kind
                }
            );
        }
    }
}

/// `Mar 18, 2013 16:37:11.382875000 UTC`, as tshark prints `frame.time` with TZ=UTC.
pub fn format_abs_time(ns: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let (y, m, d) = wiresift_dissect::fmt::civil(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{} {:2}, {} {:02}:{:02}:{:02}.{:09} UTC",
        MONTHS[(m as usize).saturating_sub(1).min(11)],
        d,
        y,
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        frac
    )
}

/// The protocol a field belongs to: the longest registered protocol name that prefixes it.
pub fn layer_of(reg: &Registry, name: &str) -> String {
    let mut best = name.split('.').next().unwrap_or(name).to_string();
    let mut end = 0;
    while let Some(dot) = name[end..].find('.') {
        let prefix = &name[..end + dot];
        if let Some(id) = reg.lookup(prefix)
            && reg.def(id).is_some_and(|d| d.kind == FieldKind::Protocol)
        {
            best = prefix.to_string();
        }
        end += dot + 1;
    }
    best
}

/// The layers of a frame with their present fields: `[(layer, [(field, [values])])]`.
pub type Tree = Vec<(String, Vec<(&'static FieldDef, Vec<Vec<u8>>)>)>;

pub fn collect_tree(src: &dyn FieldSource, reg: &Registry) -> Tree {
    let mut tree: Tree = Vec::new();
    for (id, def) in reg.iter() {
        let mut vals: Vec<Vec<u8>> = Vec::new();
        let mut present = false;
        src.visit(id, &mut |v| {
            present = true;
            if !matches!(v, Value::Protocol(_)) {
                let mut b = Vec::new();
                format_value(&mut b, def, &v);
                vals.push(b);
            }
            ControlFlow::Continue(())
        });
        if !present {
            continue;
        }
        let layer = if def.kind == FieldKind::Protocol {
            def.name.to_string()
        } else {
            layer_of(reg, def.name)
        };
        if def.kind == FieldKind::Protocol && layer.contains('.') {
            // Sub-protocol markers (ipv6.fraghdr) are listed within their layer.
            let parent = layer_of(reg, def.name);
            push_field(&mut tree, parent, def, vals);
            continue;
        }
        if def.kind == FieldKind::Protocol {
            if !tree.iter().any(|(l, _)| *l == layer) {
                tree.push((layer, Vec::new()));
            }
            continue;
        }
        push_field(&mut tree, layer, def, vals);
    }
    tree
}

fn push_field(tree: &mut Tree, layer: String, def: &'static FieldDef, vals: Vec<Vec<u8>>) {
    match tree.iter_mut().find(|(l, _)| *l == layer) {
        Some((_, fields)) => fields.push((def, vals)),
        None => tree.push((layer, vec![(def, vals)])),
    }
}
