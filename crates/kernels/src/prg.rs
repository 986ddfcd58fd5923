//! ChaCha12 as the PRG that expands seeds into ring elements: RFC 8439's ChaCha20 block layout (32-byte key,
//! 32-bit block counter, 96-bit nonce) with 12 rounds instead of 20, as the `rand` crate's StdRng and
//! Adiantum use it (the best known attacks reach 7 rounds; 12 runs 1.6× faster than 20).
//! `prg_fill` writes the keystream of (key, nonce) from block `counter` on, as little-endian u64
//! words: word `w` of the output is bytes `8w..8w+8` of the keystream. `chacha_block` with 10 double
//! rounds is ChaCha20, which the tests check against RFC 8439 to pin down everything but the round count.

use crate::error::KernelError;

/// Double rounds of the PRG (ChaCha12).
pub const DOUBLE_ROUNDS: usize = 6;

/// Key length in bytes.
pub const KEY_BYTES: usize = 32;
/// Nonce length in bytes (RFC 8439's 96-bit nonce).
pub const NONCE_BYTES: usize = 12;

#[inline(always)]
fn qr(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(12);
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(7);
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn init_state(key: &[u8], nonce: &[u8], counter: u32) -> [u32; 16] {
    let mut s = [0u32; 16];
    s[0] = 0x6170_7865;
    s[1] = 0x3320_646e;
    s[2] = 0x7962_2d32;
    s[3] = 0x6b20_6574;
    for i in 0..8 {
        s[4 + i] = le32(&key[4 * i..]);
    }
    s[12] = counter;
    for i in 0..3 {
        s[13 + i] = le32(&nonce[4 * i..]);
    }
    s
}

/// One ChaCha block of `double_rounds` double rounds (10: ChaCha20, RFC 8439 §2.3; 6: the PRG's ChaCha12).
pub fn chacha_block(key: &[u8; KEY_BYTES], nonce: &[u8; NONCE_BYTES], counter: u32, double_rounds: usize) -> [u32; 16] {
    block(&init_state(key, nonce, counter), double_rounds)
}

#[inline(always)]
fn block(input: &[u32; 16], double_rounds: usize) -> [u32; 16] {
    let mut s = *input;
    for _ in 0..double_rounds {
        qr(&mut s, 0, 4, 8, 12);
        qr(&mut s, 1, 5, 9, 13);
        qr(&mut s, 2, 6, 10, 14);
        qr(&mut s, 3, 7, 11, 15);
        qr(&mut s, 0, 5, 10, 15);
        qr(&mut s, 1, 6, 11, 12);
        qr(&mut s, 2, 7, 8, 13);
        qr(&mut s, 3, 4, 9, 14);
    }
    for (o, i) in s.iter_mut().zip(input) {
        *o = o.wrapping_add(*i);
    }
    s
}

/// Fills `out` with keystream words starting at block `counter`. Uses `ceil(len / 8)` blocks;
/// fails if the 32-bit block counter would wrap, or if key/nonce have the wrong length.
pub fn prg_fill(key: &[u8], nonce: &[u8], counter: u32, out: &mut [u64]) -> Result<(), KernelError> {
    if key.len() != KEY_BYTES {
        return Err(KernelError::InvalidArgument(format!("PRG key must be {} bytes, got {}", KEY_BYTES, key.len())));
    }
    if nonce.len() != NONCE_BYTES {
        return Err(KernelError::InvalidArgument(format!("PRG nonce must be {} bytes, got {}", NONCE_BYTES, nonce.len())));
    }
    let blocks = (out.len() as u64 + 7) / 8;
    if counter as u64 + blocks > 1u64 << 32 {
        return Err(KernelError::InvalidArgument(format!("PRG stream exhausted: block counter {} + {} blocks exceeds 2^32", counter, blocks)));
    }
    let mut state = init_state(key, nonce, counter);
    let mut chunks = out.chunks_exact_mut(8 * LANES);
    for wide in &mut chunks {
        fill_wide(&state, wide);
        state[12] = state[12].wrapping_add(LANES as u32);
    }
    for chunk in chunks.into_remainder().chunks_mut(8) {
        let ks = block(&state, DOUBLE_ROUNDS);
        for (w, o) in chunk.iter_mut().enumerate() {
            *o = ks[2 * w] as u64 | (ks[2 * w + 1] as u64) << 32;
        }
        state[12] = state[12].wrapping_add(1);
    }
    Ok(())
}

/// Blocks computed side by side: each state word is a lane array the compiler keeps in vector registers
/// (8 lanes of u32 fill an AVX2 register; 16 an AVX-512 one).
const LANES: usize = 16;

fn fill_wide(state: &[u32; 16], out: &mut [u64]) {
    #[cfg(target_arch = "x86_64")]
    {
        #[cfg(secp_avx512)]
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            unsafe { fill_wide_avx512(state, out) };
            return;
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { fill_wide_avx2(state, out) };
            return;
        }
    }
    fill_wide_generic(state, out)
}

/// The 16 blocks in AVX-512 registers (one register per state word, one lane per block), then a 16 x 16
/// transpose in registers so each block's 64 bytes are stored with one write: the generic loop's
/// word-by-word gather of the output cost more than the rounds.
#[cfg(all(target_arch = "x86_64", secp_avx512))]
#[target_feature(enable = "avx512f")]
unsafe fn fill_wide_avx512(state: &[u32; 16], out: &mut [u64]) {
    use std::arch::x86_64::*;
    let out = &mut out[..8 * LANES];
    let mut input = [_mm512_setzero_si512(); 16];
    for (v, w) in input.iter_mut().zip(state) {
        *v = _mm512_set1_epi32(*w as i32);
    }
    input[12] = _mm512_add_epi32(input[12], _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    let mut x = input;
    macro_rules! qr {
        ($a:expr, $b:expr, $c:expr, $d:expr) => {
            x[$a] = _mm512_add_epi32(x[$a], x[$b]);
            x[$d] = _mm512_rol_epi32::<16>(_mm512_xor_si512(x[$d], x[$a]));
            x[$c] = _mm512_add_epi32(x[$c], x[$d]);
            x[$b] = _mm512_rol_epi32::<12>(_mm512_xor_si512(x[$b], x[$c]));
            x[$a] = _mm512_add_epi32(x[$a], x[$b]);
            x[$d] = _mm512_rol_epi32::<8>(_mm512_xor_si512(x[$d], x[$a]));
            x[$c] = _mm512_add_epi32(x[$c], x[$d]);
            x[$b] = _mm512_rol_epi32::<7>(_mm512_xor_si512(x[$b], x[$c]));
        };
    }
    for _ in 0..DOUBLE_ROUNDS {
        qr!(0, 4, 8, 12);
        qr!(1, 5, 9, 13);
        qr!(2, 6, 10, 14);
        qr!(3, 7, 11, 15);
        qr!(0, 5, 10, 15);
        qr!(1, 6, 11, 12);
        qr!(2, 7, 8, 13);
        qr!(3, 4, 9, 14);
    }
    for (v, i) in x.iter_mut().zip(&input) {
        *v = _mm512_add_epi32(*v, *i);
    }
    // Word pairs (2p, 2p+1) as u64 P_p: lo[p] holds P_p of blocks 4k, 4k+1 in 128-bit lane k, hi[p] of 4k+2, 4k+3.
    let mut lo = [_mm512_setzero_si512(); 8];
    let mut hi = [_mm512_setzero_si512(); 8];
    for p in 0..8 {
        lo[p] = _mm512_unpacklo_epi32(x[2 * p], x[2 * p + 1]);
        hi[p] = _mm512_unpackhi_epi32(x[2 * p], x[2 * p + 1]);
    }
    // r[s][q], lane k: (P_2q, P_2q+1) of block 4k + s.
    let mut r = [[_mm512_setzero_si512(); 4]; 4];
    for q in 0..4 {
        r[0][q] = _mm512_unpacklo_epi64(lo[2 * q], lo[2 * q + 1]);
        r[1][q] = _mm512_unpackhi_epi64(lo[2 * q], lo[2 * q + 1]);
        r[2][q] = _mm512_unpacklo_epi64(hi[2 * q], hi[2 * q + 1]);
        r[3][q] = _mm512_unpackhi_epi64(hi[2 * q], hi[2 * q + 1]);
    }
    // A 4 x 4 transpose of 128-bit lanes: block 4k + s is lane k of r[s][0..4].
    let op = out.as_mut_ptr();
    for (s, rs) in r.iter().enumerate() {
        let t0 = _mm512_shuffle_i64x2::<0x44>(rs[0], rs[1]);
        let t1 = _mm512_shuffle_i64x2::<0xEE>(rs[0], rs[1]);
        let t2 = _mm512_shuffle_i64x2::<0x44>(rs[2], rs[3]);
        let t3 = _mm512_shuffle_i64x2::<0xEE>(rs[2], rs[3]);
        let blocks = [
            _mm512_shuffle_i64x2::<0x88>(t0, t2),
            _mm512_shuffle_i64x2::<0xDD>(t0, t2),
            _mm512_shuffle_i64x2::<0x88>(t1, t3),
            _mm512_shuffle_i64x2::<0xDD>(t1, t3),
        ];
        for (k, b) in blocks.iter().enumerate() {
            _mm512_storeu_si512(op.add(8 * (4 * k + s)) as *mut _, *b);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fill_wide_avx2(state: &[u32; 16], out: &mut [u64]) {
    fill_wide_generic(state, out)
}

#[inline(always)]
fn fill_wide_generic(state: &[u32; 16], out: &mut [u64]) {
    let mut x = [[0u32; LANES]; 16];
    for (w, lanes) in x.iter_mut().enumerate() {
        *lanes = [state[w]; LANES];
    }
    for (l, c) in x[12].iter_mut().enumerate() {
        *c = c.wrapping_add(l as u32);
    }
    let input = x;
    #[inline(always)]
    fn qr(x: &mut [[u32; LANES]; 16], a: usize, b: usize, c: usize, d: usize) {
        for l in 0..LANES {
            x[a][l] = x[a][l].wrapping_add(x[b][l]);
            x[d][l] = (x[d][l] ^ x[a][l]).rotate_left(16);
            x[c][l] = x[c][l].wrapping_add(x[d][l]);
            x[b][l] = (x[b][l] ^ x[c][l]).rotate_left(12);
            x[a][l] = x[a][l].wrapping_add(x[b][l]);
            x[d][l] = (x[d][l] ^ x[a][l]).rotate_left(8);
            x[c][l] = x[c][l].wrapping_add(x[d][l]);
            x[b][l] = (x[b][l] ^ x[c][l]).rotate_left(7);
        }
    }
    for _ in 0..DOUBLE_ROUNDS {
        qr(&mut x, 0, 4, 8, 12);
        qr(&mut x, 1, 5, 9, 13);
        qr(&mut x, 2, 6, 10, 14);
        qr(&mut x, 3, 7, 11, 15);
        qr(&mut x, 0, 5, 10, 15);
        qr(&mut x, 1, 6, 11, 12);
        qr(&mut x, 2, 7, 8, 13);
        qr(&mut x, 3, 4, 9, 14);
    }
    for l in 0..LANES {
        for w in 0..8 {
            let lo = x[2 * w][l].wrapping_add(input[2 * w][l]);
            let hi = x[2 * w + 1][l].wrapping_add(input[2 * w + 1][l]);
            out[8 * l + w] = lo as u64 | (hi as u64) << 32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace() && *c != ':').collect();
        (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect()
    }

    fn bytes_of(words: &[u64]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes().to_vec()).collect()
    }

    fn words_of(block: &[u32; 16]) -> Vec<u8> {
        block.iter().flat_map(|w| w.to_le_bytes().to_vec()).collect()
    }

    /// RFC 8439 §2.3.2: the block function at 20 rounds (pins the state layout and the output order).
    #[test]
    fn rfc8439_block() {
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let nonce: [u8; 12] = hex("000000090000004a00000000").try_into().unwrap();
        let expect = hex("10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e
             d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e");
        assert_eq!(words_of(&chacha_block(&key, &nonce, 1, 10)), expect);
    }

    /// RFC 8439 §2.4.2: the keystream that encrypts the "sunscreen" plaintext (ciphertext xor plaintext).
    #[test]
    fn rfc8439_encryption_keystream() {
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let nonce: [u8; 12] = hex("000000000000004a00000000").try_into().unwrap();
        let plain = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let cipher = hex("6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b
             f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8
             07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736
             5af90bbf74a35be6b40b8eedf2785e42874d");
        let mut ks = words_of(&chacha_block(&key, &nonce, 1, 10));
        ks.extend(words_of(&chacha_block(&key, &nonce, 2, 10)));
        let got: Vec<u8> = plain.iter().zip(&ks).map(|(p, k)| p ^ k).collect();
        assert_eq!(got, cipher);
    }

    /// The PRG is ChaCha12: all-zero key and nonce, blocks 0 and 1. The first 32 bytes are the published
    /// 12-round vector (draft-strombergson-chacha-test-vectors, TC1: its 64-bit counter and nonce are all
    /// zero as well); the rest is from an independent Python implementation checked against RFC 8439.
    #[test]
    fn chacha12_vectors() {
        let key = [0u8; 32];
        let nonce = [0u8; 12];
        let mut out = [0u64; 16];
        prg_fill(&key, &nonce, 0, &mut out).unwrap();
        let expect = hex("9bf49a6a0755f953811fce125f2683d50429c3bb49e074147e0089a52eae155f
             0564f879d27ae3c02ce82834acfa8c793a629f2ca0de6919610be82f411326be
             0bd58841203e74fe86fc71338ce0173dc628ebb719bdcbcc151585214cc089b4
             42258dcda14cf111c602b8971b8cc843e91e46ca905151c02744a6b017e69316");
        assert_eq!(bytes_of(&out), expect);
        // The wide (LANES blocks at once) path equals block-by-block output.
        let blocks = 2 * LANES + 1;
        let mut wide = vec![0u64; 8 * blocks + 3];
        prg_fill(&key, &nonce, 0, &mut wide).unwrap();
        assert_eq!(&wide[..16], &out[..]);
        for b in 0..blocks + 1 {
            let ks = chacha_block(&key, &nonce, b as u32, DOUBLE_ROUNDS);
            for w in 0..8 {
                if 8 * b + w < wide.len() {
                    assert_eq!(wide[8 * b + w], ks[2 * w] as u64 | (ks[2 * w + 1] as u64) << 32);
                }
            }
        }
        // A partial block is the prefix of the full one; later blocks follow from the counter.
        let mut part = [0u64; 3];
        prg_fill(&key, &nonce, 1, &mut part).unwrap();
        assert_eq!(&part[..], &out[8..11]);
    }

    /// The dispatched wide path equals the portable one for a key and counter with every bit pattern.
    #[test]
    fn wide_paths_agree() {
        let key: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
        let nonce: [u8; 12] = core::array::from_fn(|i| (i as u8).wrapping_mul(91) ^ 0x5a);
        let mut state = init_state(&key, &nonce, 0xffff_fff0);
        for _ in 0..3 {
            let mut a = vec![0u64; 8 * LANES];
            let mut b = vec![0u64; 8 * LANES];
            fill_wide(&state, &mut a);
            fill_wide_generic(&state, &mut b);
            assert_eq!(a, b);
            state[12] = state[12].wrapping_add(LANES as u32 - 3);
        }
    }

    #[test]
    fn rejects_bad_arguments() {
        let mut o = [0u64; 9];
        assert_eq!(prg_fill(&[0; 31], &[0; 12], 0, &mut o).unwrap_err().code(), "ERR_INVALID_ARGUMENT");
        assert_eq!(prg_fill(&[0; 32], &[0; 8], 0, &mut o).unwrap_err().code(), "ERR_INVALID_ARGUMENT");
        assert!(prg_fill(&[0; 32], &[0; 12], u32::MAX, &mut o).is_err());
        assert!(prg_fill(&[0; 32], &[0; 12], u32::MAX, &mut o[..8]).is_ok());
    }
}
