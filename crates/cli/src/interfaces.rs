//! `wiresift interfaces`: what `tcpdump -D` and `dumpcap -D` tell, plus addresses and link
//! types, so a user can pick the `-i` for `wiresift capture`.

use std::io::Write;

use anyhow::{Context, Result};
use clap::Args;

use crate::Outcome;

#[derive(Args)]
pub struct InterfacesArgs {
    /// Do not open each interface to list its link types (they need capture permission)
    #[arg(long = "no-link-types")]
    pub no_link_types: bool,
}

pub fn run(a: InterfacesArgs) -> Result<Outcome> {
    let list = wiresift_capture::list_interfaces(!a.no_link_types).context("listing interfaces")?;
    let mut out = std::io::stdout().lock();
    let mut denied = false;
    for (n, i) in list.iter().enumerate() {
        let mut flags = Vec::new();
        if i.loopback {
            flags.push("Loopback");
        }
        if i.up {
            flags.push("Up");
        }
        if i.running {
            flags.push("Running");
        }
        if i.wireless {
            flags.push("Wireless");
        }
        if i.connection != "Unknown" && i.connection != "Not applicable" {
            flags.push(i.connection);
        }
        write!(out, "{}.{}", n + 1, i.name)?;
        if let Some(d) = &i.description {
            write!(out, " ({d})")?;
        }
        writeln!(out, " [{}]", flags.join(", "))?;
        if !i.addresses.is_empty() {
            let addrs: Vec<String> = i
                .addresses
                .iter()
                .map(|(a, p)| match p {
                    Some(p) => format!("{a}/{p}"),
                    None => a.to_string(),
                })
                .collect();
            writeln!(out, "    addresses: {}", addrs.join(", "))?;
        }
        match &i.link_types {
            Ok(lts) => {
                let v: Vec<String> = lts
                    .iter()
                    .map(|l| {
                        if l.description.is_empty() {
                            l.name.clone()
                        } else {
                            format!("{} ({})", l.name, l.description)
                        }
                    })
                    .collect();
                writeln!(out, "    link types: {}", v.join(", "))?;
            }
            Err(e) if !a.no_link_types => {
                let l = e.to_ascii_lowercase();
                if l.contains("permission") || l.contains("not permitted") {
                    denied = true;
                    writeln!(out, "    link types: unknown (needs capture permission)")?;
                } else {
                    writeln!(out, "    link types: unknown ({e})")?;
                }
            }
            Err(_) => {}
        }
    }
    out.flush()?;
    if denied {
        eprintln!(
            "wiresift: link types need CAP_NET_RAW and CAP_NET_ADMIN (or root); see `wiresift capture` for the setcap line"
        );
    }
    Ok(Outcome::Ok)
}
