//! Stand-alone driver of the mail extractor (what `wiresift export smtp|pop3|imap|mail` does),
//! for benchmarks and debugging: `mail_export FILE DIR [smtp|pop3|imap|mail]`.

use std::path::PathBuf;

use wiresift_capfile::CaptureReader;
use wiresift_engine::{Engine, EngineOptions};
use wiresift_export::{Extractor, Manifest, ObjectDir};
use wiresift_mail::{MailExtractor, MailOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (file, dir) = (PathBuf::from(&args[1]), PathBuf::from(&args[2]));
    let kind = args.get(3).map_or("mail", String::as_str);
    let opts = MailOptions {
        smtp: matches!(kind, "smtp" | "mail"),
        pop3: matches!(kind, "pop3" | "mail"),
        imap: matches!(kind, "imap" | "mail"),
        ..MailOptions::default()
    };
    let mut x = MailExtractor::new(opts, Some(&dir)).expect("output dir");
    let od = ObjectDir::create(&dir).unwrap();
    let mut man = Manifest::open(&od).unwrap();
    let mut eng = Engine::new(EngineOptions::default());
    let mut r = CaptureReader::open(&file).expect("capture");
    let mut recs = Vec::new();
    while r.advance().unwrap_or(false) {
        let Some(f) = r.current() else { break };
        eng.process(&f, &mut x);
        x.drain_records(&mut recs);
        for rec in recs.drain(..) {
            man.append(&rec);
        }
    }
    eng.finish(&mut x);
    x.drain_records(&mut recs);
    for rec in recs.drain(..) {
        man.append(&rec);
    }
    let report = man.finish();
    assert!(report.first_error.is_none(), "{report:?}");
    let s = x.summary();
    eprintln!(
        "{} messages, {} bytes, {} truncated; {:?}",
        s.objects, s.bytes, s.truncated, s.notes
    );
}
