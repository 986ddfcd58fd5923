//! AVX-512 target features are stable from Rust 1.89; older compilers (Debian's 1.63, used for the
//! wasm build) get the crate without the AVX-512 matmul variant.
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let minor = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| v.split('.').nth(1).and_then(|m| m.parse::<u32>().ok()))
        .unwrap_or(0);
    if minor >= 80 {
        println!("cargo:rustc-check-cfg=cfg(secp_avx512)");
    }
    if minor >= 89 {
        println!("cargo:rustc-cfg=secp_avx512");
    }
}
