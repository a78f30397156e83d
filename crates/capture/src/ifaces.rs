//! The interfaces libpcap can capture on, as `tcpdump -D` and `dumpcap -D` list them.

use std::net::IpAddr;
use std::path::Path;

use wiresift_capfile::LinkType;

use crate::live::{LiveError, dlt_to_linktype};

/// One capture interface with what users check before capturing on it.
#[derive(Clone, Debug)]
pub struct InterfaceInfo {
    pub name: String,
    /// libpcap's description (on Linux mostly empty, except for pseudo-devices such as `any`).
    pub description: Option<String>,
    /// Addresses with their prefix length when libpcap reports a netmask.
    pub addresses: Vec<(IpAddr, Option<u8>)>,
    pub up: bool,
    pub running: bool,
    pub loopback: bool,
    pub wireless: bool,
    /// `Connected`, `Disconnected`, `Not applicable` or `Unknown`, as tcpdump -D shows it.
    pub connection: &'static str,
    /// The link types the device offers (the first is the default), or why they could not be
    /// read: that needs an open handle, hence the capture capabilities.
    pub link_types: Result<Vec<LinkTypeInfo>, String>,
}

/// A link type offered by a device: libpcap's DLT value, the file's LINKTYPE and the names
/// tcpdump -L prints.
#[derive(Clone, Debug)]
pub struct LinkTypeInfo {
    pub dlt: i32,
    pub link: LinkType,
    pub name: String,
    pub description: String,
}

/// Every interface libpcap finds, in its order. `probe_link_types` opens each one briefly (with a
/// tiny buffer) to ask for its link types.
pub fn list_interfaces(probe_link_types: bool) -> Result<Vec<InterfaceInfo>, LiveError> {
    let devices = pcap::Device::list().map_err(|e| LiveError::Open {
        name: "(interface list)".into(),
        message: crate::live::pcap_message(&e),
    })?;
    Ok(devices
        .into_iter()
        .map(|d| {
            let link_types = if probe_link_types {
                probe(&d.name)
            } else {
                Err("not probed".into())
            };
            InterfaceInfo {
                connection: match d.flags.connection_status {
                    pcap::ConnectionStatus::Connected => "Connected",
                    pcap::ConnectionStatus::Disconnected => "Disconnected",
                    pcap::ConnectionStatus::NotApplicable => "Not applicable",
                    pcap::ConnectionStatus::Unknown => "Unknown",
                },
                up: d.flags.is_up(),
                running: d.flags.is_running(),
                loopback: d.flags.is_loopback(),
                wireless: d.flags.is_wireless(),
                addresses: d
                    .addresses
                    .iter()
                    .map(|a| (a.addr, a.netmask.and_then(prefix_len)))
                    .collect(),
                description: d.desc.filter(|s| !s.is_empty()),
                name: d.name,
                link_types,
            }
        })
        .collect())
}

/// Names of the interfaces that exist, for "no such interface" messages: libpcap's list, plus
/// the kernel's (libpcap leaves out some devices it cannot open).
pub fn interface_names() -> Vec<String> {
    let mut names: Vec<String> = pcap::Device::list()
        .map(|v| v.into_iter().map(|d| d.name).collect())
        .unwrap_or_default();
    if let Ok(dir) = std::fs::read_dir("/sys/class/net") {
        let mut extra: Vec<String> = dir
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !names.contains(n))
            .collect();
        extra.sort();
        names.extend(extra);
    }
    names
}

/// True if `name` can be opened as a capture device: the `any` pseudo-device, anything libpcap
/// lists, or a kernel interface.
pub fn interface_exists(name: &str) -> bool {
    name == "any"
        || Path::new("/sys/class/net").join(name).exists()
        || pcap::Device::list().is_ok_and(|v| v.iter().any(|d| d.name == name))
}

fn probe(name: &str) -> Result<Vec<LinkTypeInfo>, String> {
    let cap = pcap::Capture::from_device(name)
        .and_then(|c| c.snaplen(256).buffer_size(64 * 1024).timeout(1).open())
        .map_err(|e| crate::live::pcap_message(&e))?;
    let dlts = cap
        .list_datalinks()
        .map_err(|e| crate::live::pcap_message(&e))?;
    Ok(dlts
        .into_iter()
        .map(|l| LinkTypeInfo {
            dlt: l.0,
            link: dlt_to_linktype(l.0),
            name: l.get_name().unwrap_or_else(|_| format!("DLT {}", l.0)),
            description: l.get_description().unwrap_or_default(),
        })
        .collect())
}

/// Netmask to prefix length; `None` for a mask that is not contiguous.
fn prefix_len(mask: IpAddr) -> Option<u8> {
    let bits: u128 = match mask {
        IpAddr::V4(m) => u128::from(u32::from(m)) << 96,
        IpAddr::V6(m) => u128::from(m),
    };
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_lengths() {
        assert_eq!(prefix_len("255.255.255.0".parse().unwrap()), Some(24));
        assert_eq!(prefix_len("255.255.255.255".parse().unwrap()), Some(32));
        assert_eq!(prefix_len("0.0.0.0".parse().unwrap()), Some(0));
        assert_eq!(prefix_len("255.0.255.0".parse().unwrap()), None);
        assert_eq!(
            prefix_len("ffff:ffff:ffff:ffff::".parse().unwrap()),
            Some(64)
        );
    }
}
