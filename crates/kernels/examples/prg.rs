//! Times a 1M-word ChaCha12 fill (the PRG): `cargo run --release --example prg`.
fn main() {
    let mut out = vec![0u64; 1 << 20];
    for _ in 0..3 {
        let t = std::time::Instant::now();
        secp_kernels::prg_fill(&[7u8; 32], &[0u8; 12], 0, &mut out).unwrap();
        println!("{:.2} ms ({})", t.elapsed().as_secs_f64() * 1e3, out[12345]);
    }
}
