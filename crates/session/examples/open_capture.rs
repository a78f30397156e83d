//! Opens a capture as the UI does and reports what a user waits for: the first page of rows,
//! the whole index, a page far into the file, a filter, and the peak memory.
//!
//! `cargo run --release -p wiresift-session --example open_capture -- FILE [FILTER]`
//! (`bench/ui.sh` runs it beside tshark).

use std::time::Instant;

use wiresift_session::{Session, TimeDisplay};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: open_capture FILE [FILTER]");
        std::process::exit(2);
    };
    let filter = args.next();
    let spool = std::env::temp_dir().join("wiresift-open-capture");
    let t0 = Instant::now();
    let s = match Session::open(path.as_ref(), &path, &spool) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    // First rows: poll as the browser does until a page of 200 is there (or the file ends).
    let first = loop {
        let r = s.rows(None, 0, 200, TimeDisplay::Absolute).expect("rows");
        if r.rows.len() == 200 || r.done {
            break t0.elapsed();
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    s.wait_indexed();
    let indexed = t0.elapsed();
    let st = s.status();
    let heap = s.current().data.read().map(|d| d.heap_bytes()).unwrap_or(0);
    // Pages anywhere: the median of 50 pages of 200 at spread positions.
    let mut pages = Vec::new();
    for i in 0..50u64 {
        let start = st.frames.saturating_sub(200) * i / 49;
        let t = Instant::now();
        let r = s
            .rows(None, start, 200, TimeDisplay::Absolute)
            .expect("rows");
        pages.push(t.elapsed());
        assert!(!r.rows.is_empty());
    }
    pages.sort();
    println!("frames\t{}", st.frames);
    println!("first_rows_ms\t{:.1}", first.as_secs_f64() * 1e3);
    println!("indexed_ms\t{:.1}", indexed.as_secs_f64() * 1e3);
    println!(
        "index_bytes_per_frame\t{:.1}",
        heap as f64 / st.frames.max(1) as f64
    );
    println!("page200_median_ms\t{:.2}", pages[25].as_secs_f64() * 1e3);
    println!("page200_max_ms\t{:.2}", pages[49].as_secs_f64() * 1e3);
    if let Some(f) = filter {
        let t = Instant::now();
        let out = s.apply_filter(&f).expect("filter");
        println!("filter_ms\t{:.1}", t.elapsed().as_secs_f64() * 1e3);
        println!("filter_count\t{}", out.count);
        let t = Instant::now();
        let again = s.apply_filter(&f).expect("filter");
        assert!(again.cached);
        println!("filter_cached_ms\t{:.3}", t.elapsed().as_secs_f64() * 1e3);
    }
    println!("peak_rss_kib\t{}", peak_rss_kib());
    if let Some(e) = st.error {
        eprintln!("index: {e}");
    }
}
