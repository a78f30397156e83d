//! The fuzz target's body (`fuzz/fuzz_targets/flow_reassembly.rs`) run over pseudo-random
//! inputs on stable Rust, so the limit paths are exercised by `cargo test` too.

#[path = "support/fuzz_body.rs"]
mod fuzz_body;

#[test]
fn random_packet_sequences_do_not_panic() {
    let mut st: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..400 {
        let len = 64 + (round * 37) % 4000;
        let data: Vec<u8> = (0..len)
            .map(|_| {
                st ^= st << 13;
                st ^= st >> 7;
                st ^= st << 17;
                (st >> 24) as u8
            })
            .collect();
        fuzz_body::run(&data);
    }
}
