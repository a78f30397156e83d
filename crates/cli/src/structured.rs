//! Structured output of frames: `-T fields -e ...`, `-T json` (NDJSON) and `-V` (detail tree),
//! all driven by the field registry so names and types match the display filter.

use std::io::Write;
use std::ops::ControlFlow;

use anyhow::{Result, bail};
use wiresift_field::{FieldId, FieldSource, Registry, Value};
pub use wiresift_session::tree::{collect_tree, format_value};

/// Options of `-T fields` (`-E header=y`, `separator=`, `quote=`, `occurrence=`, `aggregator=`).
#[derive(Clone, Debug)]
pub struct FieldsOptions {
    pub header: bool,
    pub separator: String,
    pub quote: Option<char>,
    /// `f` (first), `l` (last), `a` (all) or a 1-based occurrence number.
    pub occurrence: Occurrence,
    pub aggregator: String,
}

#[derive(Clone, Copy, Debug)]
pub enum Occurrence {
    All,
    First,
    Last,
    Nth(usize),
}

impl Default for FieldsOptions {
    fn default() -> Self {
        FieldsOptions {
            header: false,
            separator: "\t".into(),
            quote: None,
            occurrence: Occurrence::All,
            aggregator: ",".into(),
        }
    }
}

impl FieldsOptions {
    /// Applies one `-E key=value` option, as tshark spells them.
    pub fn set(&mut self, kv: &str) -> Result<()> {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("-E expects key=value, got '{kv}'");
        };
        let special = |v: &str| -> String {
            match v {
                "/t" => "\t".into(),
                "/s" => " ".into(),
                "/n" => "\n".into(),
                other => other.into(),
            }
        };
        match k {
            "header" => self.header = matches!(v, "y" | "yes" | "true" | "1"),
            "separator" => self.separator = special(v),
            "aggregator" => self.aggregator = special(v),
            "quote" => {
                self.quote = match v {
                    "d" => Some('"'),
                    "s" => Some('\''),
                    "n" => None,
                    _ => bail!("-E quote= takes d, s or n, got '{v}'"),
                }
            }
            "occurrence" => {
                self.occurrence = match v {
                    "a" => Occurrence::All,
                    "f" => Occurrence::First,
                    "l" => Occurrence::Last,
                    n => match n.parse::<usize>() {
                        Ok(i) if i > 0 => Occurrence::Nth(i),
                        _ => bail!("-E occurrence= takes f, l, a or a number, got '{v}'"),
                    },
                }
            }
            "bom" => {}
            _ => {
                bail!("unknown -E option '{k}' (header, separator, quote, occurrence, aggregator)")
            }
        }
        Ok(())
    }
}

/// Writes the header line of `-T fields`.
pub fn fields_header(out: &mut Vec<u8>, names: &[String], o: &FieldsOptions) {
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(o.separator.as_bytes());
        }
        out.extend_from_slice(n.as_bytes());
    }
    out.push(b'\n');
}

/// Writes one `-T fields` line.
pub fn fields_line(
    out: &mut Vec<u8>,
    src: &dyn FieldSource,
    reg: &Registry,
    ids: &[FieldId],
    o: &FieldsOptions,
) {
    let mut vals: Vec<Vec<u8>> = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(o.separator.as_bytes());
        }
        let Some(def) = reg.def(id) else { continue };
        vals.clear();
        src.visit(id, &mut |v| {
            let mut b = Vec::new();
            if let Value::Protocol(bytes) = v {
                // A marker field (FT_NONE) prints as 1, as tshark does; a protocol by name.
                if bytes.is_empty() {
                    b.push(b'1');
                } else {
                    b.extend_from_slice(def.name.as_bytes());
                }
            } else {
                format_value(&mut b, def, &v);
            }
            vals.push(b);
            ControlFlow::Continue(())
        });
        let chosen: Vec<&Vec<u8>> = match o.occurrence {
            Occurrence::All => vals.iter().collect(),
            Occurrence::First => vals.first().into_iter().collect(),
            Occurrence::Last => vals.last().into_iter().collect(),
            Occurrence::Nth(n) => vals.get(n - 1).into_iter().collect(),
        };
        if chosen.is_empty() {
            continue;
        }
        if let Some(q) = o.quote {
            out.push(q as u8);
        }
        for (j, v) in chosen.iter().enumerate() {
            if j > 0 {
                out.extend_from_slice(o.aggregator.as_bytes());
            }
            out.extend_from_slice(v);
        }
        if let Some(q) = o.quote {
            out.push(q as u8);
        }
    }
    out.push(b'\n');
}

fn json_str(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for ch in String::from_utf8_lossy(s).chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// One NDJSON object: `{"frame":N,"layers":{"eth":{"eth.dst":"..."},...}}`; values are strings
/// as tshark's `-T json` gives them, arrays when a field occurs more than once.
pub fn json_line(out: &mut Vec<u8>, number: u64, src: &dyn FieldSource, reg: &Registry) {
    let tree = collect_tree(src, reg);
    let _ = write!(out, "{{\"frame\":{number},\"layers\":{{");
    for (i, (layer, fields)) in tree.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(out, layer.as_bytes());
        out.extend_from_slice(b":{");
        for (j, (def, vals)) in fields.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            json_str(out, def.name.as_bytes());
            out.push(b':');
            match vals.len() {
                0 => out.extend_from_slice(b"\"\""),
                1 => json_str(out, &vals[0]),
                _ => {
                    out.push(b'[');
                    for (k, v) in vals.iter().enumerate() {
                        if k > 0 {
                            out.push(b',');
                        }
                        json_str(out, v);
                    }
                    out.push(b']');
                }
            }
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"}}\n");
}

/// `-V`: each layer with its fields, one per line, as `Description (name): value`.
pub fn detail_tree(out: &mut Vec<u8>, src: &dyn FieldSource, reg: &Registry) {
    let tree = collect_tree(src, reg);
    for (layer, fields) in &tree {
        let title = reg
            .lookup(layer)
            .and_then(|id| reg.def(id))
            .map(|d| d.desc)
            .unwrap_or(layer.as_str());
        let _ = writeln!(out, "{title}");
        for (def, vals) in fields {
            if vals.is_empty() {
                let _ = writeln!(out, "    {} ({})", def.desc, def.name);
            }
            for v in vals {
                let _ = write!(out, "    {}: ", def.desc);
                out.extend_from_slice(v);
                let _ = writeln!(out, "  [{}]", def.name);
            }
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abs_time_like_tshark() {
        assert_eq!(
            wiresift_session::tree::format_abs_time(1_363_624_631_382_875_000),
            "Mar 18, 2013 16:37:11.382875000 UTC"
        );
    }

    #[test]
    fn e_options() {
        let mut o = FieldsOptions::default();
        o.set("separator=,").unwrap();
        o.set("quote=d").unwrap();
        o.set("occurrence=2").unwrap();
        o.set("header=y").unwrap();
        assert_eq!(o.separator, ",");
        assert!(o.header && o.quote == Some('"'));
        assert!(matches!(o.occurrence, Occurrence::Nth(2)));
        assert!(o.set("bogus=1").is_err());
    }
}
