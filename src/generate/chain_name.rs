//! kube-proxy's chain names: `PREFIX-` + the first 16 characters of
//! `base32(sha256(text))`.
//!
//! kube-proxy hashes `SERVICE_PORT_NAME + protocol` for the per-service chains
//! (KUBE-SVC, KUBE-SVL, KUBE-EXT, KUBE-FW, KUBE-XLB) and
//! `SERVICE_PORT_NAME + protocol + "IP:PORT"` for KUBE-SEP. Reproducing the hash
//! exactly makes generated names indistinguishable from real ones, and a small
//! SHA-256 here keeps the crate free of a hashing dependency.

/// The 16-character hash kube-proxy appends to a chain prefix, computed over
/// the concatenation of `parts`.
pub(crate) fn kube_hash(parts: &[&str]) -> [u8; 16] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finish();
    base32_prefix(&digest)
}

/// Writes `prefix` followed by the kube-proxy hash of `parts` into a new String.
pub(crate) fn chain_name(prefix: &str, parts: &[&str]) -> String {
    let hash = kube_hash(parts);
    let mut name = String::with_capacity(prefix.len() + hash.len());
    name.push_str(prefix);
    // The alphabet is ASCII, so every byte is a char.
    name.extend(hash.iter().map(|&b| b as char));
    name
}

/// The first 16 characters of the RFC 4648 base32 encoding (as Go's
/// `base32.StdEncoding`) of `bytes`; 16 characters cover exactly 10 bytes.
fn base32_prefix(bytes: &[u8; 32]) -> [u8; 16] {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = [0u8; 16];
    for (group, chunk) in bytes[..10].chunks_exact(5).enumerate() {
        let bits = chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        for i in 0..8 {
            let index = (bits >> (35 - 5 * i)) & 0x1f;
            out[group * 8 + i] = ALPHABET[index as usize];
        }
    }
    out
}

/// A minimal streaming SHA-256 (FIPS 180-4), enough for short chain-name inputs.
struct Sha256 {
    state: [u32; 8],
    block: [u8; 64],
    block_len: usize,
    total_len: u64,
}

const ROUND_CONSTANTS: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

impl Sha256 {
    fn new() -> Self {
        Sha256 {
            state: [
                0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
                0x5be0cd19,
            ],
            block: [0; 64],
            block_len: 0,
            total_len: 0,
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.total_len += data.len() as u64;
        while !data.is_empty() {
            let take = (64 - self.block_len).min(data.len());
            self.block[self.block_len..self.block_len + take].copy_from_slice(&data[..take]);
            self.block_len += take;
            data = &data[take..];
            if self.block_len == 64 {
                self.compress();
                self.block_len = 0;
            }
        }
    }

    fn finish(mut self) -> [u8; 32] {
        let bit_len = self.total_len.wrapping_mul(8);
        self.block[self.block_len] = 0x80;
        self.block_len += 1;
        if self.block_len > 56 {
            self.block[self.block_len..].fill(0);
            self.compress();
            self.block_len = 0;
        }
        self.block[self.block_len..56].fill(0);
        self.block[56..].copy_from_slice(&bit_len.to_be_bytes());
        self.compress();
        let mut digest = [0u8; 32];
        for (chunk, word) in digest.chunks_exact_mut(4).zip(self.state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        digest
    }

    fn compress(&mut self) {
        let mut schedule = [0u32; 64];
        for (i, chunk) in self.block.chunks_exact(4).enumerate() {
            schedule[i] = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        for i in 16..64 {
            let s0 = schedule[i - 15].rotate_right(7)
                ^ schedule[i - 15].rotate_right(18)
                ^ (schedule[i - 15] >> 3);
            let s1 = schedule[i - 2].rotate_right(17)
                ^ schedule[i - 2].rotate_right(19)
                ^ (schedule[i - 2] >> 10);
            schedule[i] = schedule[i - 16]
                .wrapping_add(s0)
                .wrapping_add(schedule[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = self.state;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let choice = (e & f) ^ (!e & g);
            let t1 = h
                .wrapping_add(s1)
                .wrapping_add(choice)
                .wrapping_add(ROUND_CONSTANTS[i])
                .wrapping_add(schedule[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let majority = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(majority);
            h = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (slot, value) in self.state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
            *slot = slot.wrapping_add(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(digest: [u8; 32]) -> String {
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn sha256_matches_known_vectors() {
        let digest = |text: &str| {
            let mut hasher = Sha256::new();
            hasher.update(text.as_bytes());
            hex(hasher.finish())
        };
        assert_eq!(
            digest(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // 56 bytes: the padding spills into a second block.
        assert_eq!(
            digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    /// Names taken from kube-proxy's own test expectations
    /// (corpus file kubernetes__overall-iptables-rules-v1.28.rules).
    #[test]
    fn reproduces_kube_proxy_chain_names() {
        assert_eq!(
            chain_name("KUBE-SVC-", &["ns1/svc1:p80", "tcp"]),
            "KUBE-SVC-XPGD46QRK7WJZT7O"
        );
        assert_eq!(
            chain_name("KUBE-SEP-", &["ns1/svc1:p80", "tcp", "10.180.0.1:80"]),
            "KUBE-SEP-SXIVWICOYRO3J4NJ"
        );
        assert_eq!(
            chain_name("KUBE-FW-", &["ns5/svc5:p80", "tcp"]),
            "KUBE-FW-NUKIZ6OKUXPJNT4C"
        );
        assert_eq!(
            chain_name("KUBE-SVC-", &["ns1/svc1", "tcp"]),
            "KUBE-SVC-AQI2S6QIMU7PVVRP"
        );
    }
}
