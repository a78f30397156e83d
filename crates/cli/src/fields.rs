//! `wiresift fields [PREFIX]`: the field registry, like `tshark -G fields`.

use anyhow::Result;
use clap::Args;

use crate::Outcome;
use crate::registry::registry;

#[derive(Args)]
pub struct FieldsArgs {
    /// Only fields whose name starts with this (e.g. `tcp` or `ip.`)
    pub prefix: Option<String>,
}

pub fn run(a: FieldsArgs) -> Result<Outcome> {
    let mut out = String::new();
    for (_, d) in registry().iter() {
        if let Some(p) = &a.prefix
            && !d.name.starts_with(p.as_str())
        {
            continue;
        }
        out.push_str(&format!("{}\t{}\t{}\n", d.name, d.kind.ws_name(), d.desc));
    }
    use std::io::Write;
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(Outcome::Ok)
}
