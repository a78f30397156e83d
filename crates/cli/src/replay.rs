//! `wiresift replay`: frames of a capture onto an interface (like tcpreplay), at the recorded
//! timing, a speed factor, a packet or bit rate, or top speed; frames chosen with -f/-Y;
//! MAC/IP/port rewriting with checksums fixed; tcpreplay's statistics at the end.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use wiresift_capfile::Frame;
use wiresift_dissect::FrameMeta;
use wiresift_engine::{Engine, EngineOptions, FrameSource};
use wiresift_flow::NullHandler;
use wiresift_replay::packet_replay::{self, PacketReplayOptions, Rate};
use wiresift_replay::rewrite::{self, Rewrite};

use crate::Outcome;
use crate::registry::registry;

#[derive(Args)]
pub struct ReplayArgs {
    /// Capture file (pcap or pcapng, optionally gzip-compressed); `-` reads standard input
    pub file: PathBuf,
    /// Interface to put the frames on
    #[arg(short = 'i', long = "intf", alias = "iface", value_name = "IFACE")]
    pub iface: String,
    /// Recorded timing sped up by this factor (2 = twice as fast); default 1
    #[arg(short = 'x', long, value_name = "X", conflicts_with_all = ["pps", "mbps", "topspeed"])]
    pub speed: Option<f64>,
    /// Fixed rate in packets per second
    #[arg(short = 'p', long, value_name = "N", conflicts_with_all = ["mbps", "topspeed"])]
    pub pps: Option<f64>,
    /// Fixed rate in megabits per second
    #[arg(short = 'M', long, value_name = "N", conflicts_with = "topspeed")]
    pub mbps: Option<f64>,
    /// As fast as the interface takes them
    #[arg(short = 't', long)]
    pub topspeed: bool,
    /// Play the file this many times
    #[arg(short = 'l', long = "loop", value_name = "N", default_value = "1")]
    pub loops: u64,
    /// Stop after this many frames
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,
    /// Capture filter choosing the frames (pcap-filter syntax)
    #[arg(short = 'f', long = "filter", value_name = "BPF")]
    pub filter: Option<String>,
    /// Display filter choosing the frames (Wireshark syntax)
    #[arg(short = 'Y', long = "display-filter", value_name = "FILTER")]
    pub display_filter: Option<String>,
    /// Set the source MAC address of every frame
    #[arg(long, value_name = "MAC", value_parser = rewrite::parse_mac)]
    pub src_mac: Option<[u8; 6]>,
    /// Set the destination MAC address of every frame
    #[arg(long, value_name = "MAC", value_parser = rewrite::parse_mac)]
    pub dst_mac: Option<[u8; 6]>,
    /// Move IP addresses: OLD=NEW, CIDR with host bits kept (repeatable), e.g. 10.0.0.0/8=172.16.0.0/8
    #[arg(long, value_name = "OLD=NEW", value_parser = rewrite::parse_ip_map)]
    pub ip_map: Vec<rewrite::IpMap>,
    /// Change TCP/UDP ports A to B, source and destination (repeatable), e.g. 80=8080
    #[arg(long, value_name = "A=B", value_parser = rewrite::parse_port_map)]
    pub port_map: Vec<(u16, u16)>,
    /// Do not ask for real-time scheduling for paced replays (it keeps gaps exact on a busy
    /// machine; needs CAP_SYS_NICE, skipped without it)
    #[arg(long)]
    pub no_realtime: bool,
    /// Only the statistics' first lines
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

pub fn run(a: ReplayArgs) -> Result<Outcome> {
    let rate = if a.topspeed {
        Rate::Topspeed
    } else if let Some(p) = a.pps {
        Rate::Pps(p)
    } else if let Some(m) = a.mbps {
        Rate::Mbps(m)
    } else {
        Rate::Original {
            speed: a.speed.unwrap_or(1.0),
        }
    };
    let o = PacketReplayOptions {
        iface: a.iface.clone(),
        rate,
        loops: a.loops,
        capture_filter: a.filter.clone(),
        rewrite: Rewrite {
            src_mac: a.src_mac,
            dst_mac: a.dst_mac,
            ip_map: a.ip_map.clone(),
            port_map: a.port_map.clone(),
        },
        limit: a.count,
        realtime: !a.no_realtime,
    };
    // The display filter runs the engine over every frame the capture filter let through.
    let _reg = registry();
    let Ok(display) = crate::registry::compile_display_filter(a.display_filter.as_deref()) else {
        return Ok(Outcome::Failed);
    };
    let flow_base = wiresift_engine::fields::BASE;
    let mut engine = Engine::new(EngineOptions {
        skip_flows: !display
            .as_ref()
            .is_some_and(|d| d.fields().iter().any(|&id| id >= flow_base)),
        ..EngineOptions::default()
    });
    let mut first_ts = None::<i64>;
    let mut prev_ts = 0i64;
    let mut prev_shown = None::<i64>;
    let mut select = |frame: &Frame<'_>| -> bool {
        let Some(d) = &display else { return true };
        let start = *first_ts.get_or_insert(frame.ts);
        let processed = engine.process(frame, &mut NullHandler);
        let meta = FrameMeta {
            number: frame.number,
            ts: frame.ts,
            first_ts: start,
            prev_ts: if prev_ts == 0 { frame.ts } else { prev_ts },
            prev_displayed_ts: prev_shown.unwrap_or(frame.ts),
            orig_len: frame.orig_len,
            iface: frame.iface,
            iface_name: None,
            link: frame.link,
        };
        prev_ts = frame.ts;
        let ok = d.matches(&FrameSource::new(meta, frame.data, &processed));
        if ok {
            prev_shown = Some(frame.ts);
        }
        ok
    };
    let _ = wiresift_capture::install_stop_signals();
    let stop = || wiresift_capture::stop_signal().is_some();
    let sel: Option<&mut dyn FnMut(&Frame<'_>) -> bool> = if a.display_filter.is_some() {
        Some(&mut select)
    } else {
        None
    };
    match packet_replay::run(&a.file, &o, sel, &stop) {
        Ok(st) => {
            let rep = st.report(&a.iface);
            if a.quiet {
                for l in rep.lines().take(2) {
                    println!("{l}");
                }
            } else {
                println!("{rep}");
            }
            if let Some(e) = &st.first_error {
                eprintln!(
                    "wiresift: {} frame(s) could not be sent; first error: {e}",
                    st.failed
                );
            }
            if st.unsupported > 0 {
                eprintln!(
                    "wiresift: {} frame(s) of a link type that cannot go onto an Ethernet interface were skipped",
                    st.unsupported
                );
            }
            Ok(if st.failed > 0 || st.unsupported > 0 {
                Outcome::Partial
            } else {
                Outcome::Ok
            })
        }
        Err(e) => {
            eprintln!("wiresift: replay: {e}");
            Ok(Outcome::Failed)
        }
    }
}
