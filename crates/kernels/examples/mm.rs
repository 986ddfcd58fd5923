//! Times one 512x768x768 wrapping matmul on one thread: `cargo run --release --example mm`.
fn main() {
    let (m, k, n) = (512, 768, 768);
    let a: Vec<u64> = (0..m * k).map(|i| (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).collect();
    let b: Vec<u64> = (0..k * n).map(|i| (i as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9)).collect();
    let mut out = vec![0u64; m * n];
    for _ in 0..3 {
        let t = std::time::Instant::now();
        secp_kernels::matmul(&a, &b, m, k, n, &mut out).unwrap();
        let s = t.elapsed().as_secs_f64();
        println!("{:.1} ms, {:.2} GMAC/s (checksum {})", s * 1e3, (m * k * n) as f64 / s / 1e9, out[12345]);
    }
}
