//! The Internet checksum (RFC 1071) and its incremental forms.
//!
//! `sum` folds bytes into a 32-bit one's-complement accumulator; `finish` folds and inverts.
//! Accumulators can be chained, which is how pseudo-header checksums are built.

/// Add `data` to a running one's-complement accumulator (big-endian 16-bit words; an odd
/// trailing byte is padded with zero).
#[inline]
pub fn sum(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        // 8 bytes at a time: add the two big-endian 32-bit halves into a 64-bit accumulator.
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
        acc += u64::from(u32::from_be_bytes([c[4], c[5], c[6], c[7]]));
    }
    let rest = chunks.remainder();
    let mut words = rest.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [b] = words.remainder() {
        acc += u64::from(*b) << 8;
    }
    acc
}

/// Fold an accumulator to 16 bits without inverting it.
#[inline]
pub fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Fold and invert: the value to store in a checksum field.
#[inline]
pub fn finish(acc: u64) -> u16 {
    !fold(acc)
}

/// Checksum of a buffer in one call.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    finish(sum(0, data))
}

/// True when `data` (with its checksum field in place) verifies.
#[inline]
pub fn verify(data: &[u8]) -> bool {
    fold(sum(0, data)) == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: words 0001 f203 f4f5 f6f7 sum to ddf2 (before inversion).
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(0, &d)), 0xddf2);
        assert_eq!(checksum(&d), !0xddf2);
    }

    #[test]
    fn odd_length_and_chaining() {
        let d = [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        let whole = sum(0, &d);
        let split = sum(sum(0, &d[..8]), &d[8..]);
        assert_eq!(fold(whole), fold(split));
        assert_eq!(fold(sum(0, &[0xab])), 0xab00);
    }
}
