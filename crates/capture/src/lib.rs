//! The libpcap edge of wiresift: capture filters compiled by libpcap exactly as tcpdump compiles
//! them, applied to frames read from files; live capture and injection build on the same handle
//! types. This is the only crate allowed `unsafe`: to call `pcap_offline_filter` with the real
//! wire length (the `pcap` crate passes the captured length for both, which breaks
//! `greater N`/`less N` on snaplen-truncated frames), and to map capture files ([`mapped`]).

mod bpf;
pub mod ifaces;
pub mod inject;
pub mod live;
pub mod mapped;

pub use bpf::{BpfError, CaptureFilter};
pub use ifaces::{InterfaceInfo, LinkTypeInfo, interface_exists, interface_names, list_interfaces};
pub use live::{
    Batch, LiveCapture, LiveConfig, LiveError, LiveStats, PrivilegeError, drop_privileges,
    install_stop_signals, ring_file_name, stop_signal,
};
