//! The machine's single-core memory read bandwidth, the floor `qjit bench` compares a scan-bound
//! query with (TPC-H Q6 reads four columns once: it cannot run faster than their bytes take to
//! stream from memory on one core).
//!
//! In: the size of a buffer to stream (far larger than the caches). Out: the best of a few
//! passes of a vectorizable sum over it, in bytes per second.

use std::time::Instant;

/// The fastest of `passes` single-threaded reads of a `bytes`-byte buffer (at least 1 MiB), in
/// bytes per second.
///
/// ```
/// let bw = qjit::internals::bandwidth::read_bandwidth(1 << 20, 2);
/// assert!(bw > 0.0);
/// ```
pub fn read_bandwidth(bytes: usize, passes: usize) -> f64 {
    let words = bytes.max(1 << 20) / 8;
    // Distinct values, so that the pages are really backed by memory.
    let data: Vec<u64> = (0..words as u64).collect();
    let mut best = f64::INFINITY;
    let mut check = 0u64;
    for _ in 0..passes.max(1) {
        let start = Instant::now();
        check = check.wrapping_add(sum(&data));
        best = best.min(start.elapsed().as_secs_f64());
    }
    std::hint::black_box(check);
    (words * 8) as f64 / best.max(1e-9)
}

/// A sum in eight independent lanes, so that the loop is limited by loads, not by additions.
fn sum(data: &[u64]) -> u64 {
    let mut lanes = [0u64; 8];
    let chunks = data.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            *l = l.wrapping_add(*v);
        }
    }
    let tail: u64 = rest.iter().fold(0, |a, v| a.wrapping_add(*v));
    lanes.iter().fold(tail, |a, v| a.wrapping_add(*v))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sums_every_word() {
        let data: Vec<u64> = (1..=1001).collect();
        assert_eq!(super::sum(&data), 1001 * 1002 / 2);
    }
}
