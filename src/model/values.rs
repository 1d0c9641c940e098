//! Typed values of options: addresses, ports, marks, MAC addresses,
//! probabilities. Each parser returns a message fit for a `bad-value`
//! diagnostic when the text is not what iptables would accept.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Family;

/// The kernel's scale for `--probability`: it stores `round(P * 2^31)`.
pub const PROBABILITY_SCALE: f64 = 2147483648.0;

/// An address with a prefix length, `10.0.0.0/8` or `fd00::/64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    /// The address, with host bits as written.
    pub addr: IpAddr,
    /// Prefix length in bits.
    pub prefix: u8,
}

impl IpNet {
    /// The network containing every address of the family (`0.0.0.0/0`).
    pub fn any(v6: bool) -> IpNet {
        let addr = if v6 {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        };
        IpNet { addr, prefix: 0 }
    }

    /// Address bits as a u128 (IPv4 in the low 32 bits) and the family width.
    fn bits(&self) -> (u128, u8) {
        match self.addr {
            IpAddr::V4(v4) => (u32::from(v4) as u128, 32),
            IpAddr::V6(v6) => (u128::from(v6), 128),
        }
    }

    fn mask(&self) -> u128 {
        let (_, width) = self.bits();
        if self.prefix == 0 {
            0
        } else {
            let ones = u128::MAX << (128 - self.prefix as u32);
            ones >> (128 - width as u32)
        }
    }

    /// Whether every address of `other` is in `self`.
    pub fn contains(&self, other: &IpNet) -> bool {
        let ((a, wa), (b, wb)) = (self.bits(), other.bits());
        if wa != wb || self.prefix > other.prefix {
            return false;
        }
        let mask = self.mask();
        a & mask == b & mask
    }

    /// Whether the two networks share at least one address.
    pub fn overlaps(&self, other: &IpNet) -> bool {
        self.contains(other) || other.contains(self)
    }

    /// Whether this is a single host (`/32` or `/128`).
    pub fn is_host(&self) -> bool {
        self.prefix == self.bits().1
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Parse `ADDR`, `ADDR/LEN` or `ADDR/MASK` (IPv4 dotted mask), as `-s`/`-d` take them.
pub fn parse_ipnet(text: &str) -> Result<IpNet, String> {
    let (addr, prefix_text) = split_address(text)?;
    let width = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_text {
        None => width,
        Some(p) if p.contains('.') && addr.is_ipv4() => {
            let mask: Ipv4Addr = p.parse().map_err(|_| format!("`{p}` is not a netmask"))?;
            mask_prefix(u128::from(u32::from(mask)) << 96)
                .ok_or_else(|| format!("`{p}` is not a contiguous netmask"))? as u8
        }
        Some(p) => match p.parse::<u8>() {
            Ok(len) if len <= width => len,
            _ => {
                return Err(format!(
                    "`{p}` is not a prefix length between 0 and {width}"
                ));
            }
        },
    };
    Ok(IpNet { addr, prefix })
}

/// What `-s` or `-d` compares a packet's address with: iptables keeps an
/// address and a mask and matches when `packet & mask == address & mask`.
#[derive(Debug, Clone, Copy)]
pub struct AddressMatch {
    /// The address and the longest prefix its mask starts with.
    pub net: IpNet,
    /// What the mask was beyond that prefix.
    pub mask: MaskShape,
}

/// What the mask of an [`AddressMatch`] was, beyond the prefix it starts
/// with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskShape {
    /// Exactly that prefix.
    Prefix,
    /// The mask has ones after that prefix (`255.0.255.0`, which iptables
    /// takes): the rule matches only some of the prefix's addresses, and no
    /// prefix says which.
    Sparse,
    /// A mask of zero written as an address (`x/0.0.0.0`, `x/::`): any
    /// address, but only the family it is written in loads it (see
    /// [`mask_family`]).
    ZeroAddress(Family),
    /// Not an address but a host name (`-s backup.example.com`), which
    /// iptables looks up when loading: the rule holds the addresses found
    /// then (iptables-save prints those), unknown here. The prefix is 0
    /// and the address a digest of the name, not an address of the host,
    /// so that rules naming two hosts are not taken for copies.
    HostName,
}

/// Comparisons leave out how a mask of zero was written: the kernel holds
/// the same rule for `x/0.0.0.0` and `x/0`.
impl PartialEq for AddressMatch {
    fn eq(&self, other: &Self) -> bool {
        (self.net, self.is_sparse()) == (other.net, other.is_sparse())
    }
}

impl Eq for AddressMatch {}

impl std::hash::Hash for AddressMatch {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.net, self.is_sparse()).hash(state);
    }
}

impl AddressMatch {
    /// Whether the kernel holds the two as the same address and mask:
    /// iptables clears the host bits when it loads a rule, so `10.1.2.3/16`
    /// is `10.1.0.0/16`. (A mask that is not a prefix is compared as
    /// written: the model keeps only the prefix it starts with.)
    pub fn loads_as(&self, other: &AddressMatch) -> bool {
        match (self.mask, other.mask) {
            (MaskShape::Prefix, MaskShape::Prefix) => {
                self.net.contains(&other.net) && other.net.contains(&self.net)
            }
            _ => self == other || (self.is_any() && other.is_any()),
        }
    }

    /// A mask of zero: iptables ignores the address (`any/0` loads), so
    /// this matches every address (of either family, unless the mask is
    /// written as an address: see [`AddressMatch::zero_mask_family`]).
    pub fn is_any(&self) -> bool {
        self.net.prefix == 0 && !self.is_sparse()
    }

    /// Whether the rule matches only some addresses of `net`, and no prefix
    /// says which: a mask with ones after its prefix
    /// ([`MaskShape::Sparse`]) or a host name ([`MaskShape::HostName`],
    /// whose `net` has a prefix of 0: any address).
    pub fn is_sparse(&self) -> bool {
        matches!(self.mask, MaskShape::Sparse | MaskShape::HostName)
    }

    /// Whether this is a host name rather than an address (see
    /// [`MaskShape::HostName`]).
    pub fn is_host_name(&self) -> bool {
        self.mask == MaskShape::HostName
    }

    /// The family the address is written in, the only one that loads it;
    /// `None` when either does (a mask of zero written as a number, a host
    /// name, which is looked up in the family of the tool).
    pub fn family(&self) -> Option<Family> {
        match self.mask {
            MaskShape::HostName => None,
            MaskShape::ZeroAddress(family) => Some(family),
            _ if self.is_any() => None,
            _ if self.net.addr.is_ipv6() => Some(Family::V6),
            _ => Some(Family::V4),
        }
    }

    /// For a mask of zero written as an address, the only family that
    /// loads it.
    pub fn zero_mask_family(&self) -> Option<Family> {
        match self.mask {
            MaskShape::ZeroAddress(family) => Some(family),
            _ => None,
        }
    }
}

/// One address of `-s`/`-d` as iptables 1.8 reads it (libxtables'
/// `xtables_ipparse_multiple` and `xtables_ip6parse_multiple`, one element
/// of a comma list): `HOST[/MASK]`, split at the last `/`, leading white
/// space skipped. The family is the text's own (a `:` makes it IPv6), as
/// the dump's is known only once it is read; an address of the other
/// family is reported then.
///
/// - MASK: a prefix length in C notation (`010` is 8, `0x10` is 16) up to
///   the family's width, or a mask written as an address of the family,
///   contiguous or not. A mask of zero makes iptables ignore HOST.
/// - HOST: in IPv4 libxtables' own reading (one to four numbers in C
///   notation from 0 to 255, missing ones zero: `10.1` is 10.1.0.0), then
///   `inet_aton`'s (`0x0a000001`); in IPv6 `inet_pton`'s. Anything else
///   would be looked up as a host name, which iptables-save never writes.
pub fn parse_address(text: &str) -> Result<AddressMatch, String> {
    // What iptables-save writes, `10.0.0.1/32`, read the short way: a
    // decimal prefix without a leading zero means the same in C notation.
    if let Some((host, length)) = text.split_once('/')
        && let Ok(addr) = host.parse::<Ipv4Addr>()
        && !(length.len() > 1 && length.starts_with('0'))
        && let Ok(prefix @ 1..=32) = length.parse::<u8>()
    {
        return Ok(AddressMatch {
            net: IpNet {
                addr: IpAddr::V4(addr),
                prefix,
            },
            mask: MaskShape::Prefix,
        });
    }
    let text = text.trim_start_matches(|c: char| c.is_ascii() && is_c_space(c as u8));
    let (host, mask_text) = match text.rsplit_once('/') {
        Some((host, mask)) => (host, Some(mask)),
        None => (text, None),
    };
    let v6 = host.contains(':') || mask_text.is_some_and(|mask| mask.contains(':'));
    let width: u32 = if v6 { 128 } else { 32 };
    let bad_mask = |mask: &str| {
        format!("`{mask}` is not a prefix length (0 to {width}) or a mask of the address's family")
    };
    // A mask written as an address is read in its own family (see
    // [`mask_family`]): when it is zero the host is ignored, whatever
    // its family (`fd00::1/0.0.0.0` loads in iptables).
    let written_family = mask_text.and_then(mask_family);
    let mask_v6 = written_family.map_or(v6, |family| family == Family::V6);
    // The mask in the top bits of 128.
    let mask = match mask_text {
        None => u128::MAX,
        Some(mask) => match parse_mask(mask, mask_v6) {
            Some(mask) => mask,
            // A prefix length only ip6tables takes (`/64`) after a name:
            // the name may be an IPv6 host's.
            None if is_host_name(host) && parse_mask(mask, true).is_some_and(|m| m != 0) => {
                return Ok(host_name(host));
            }
            None => return Err(bad_mask(mask)),
        },
    };
    if mask == 0 {
        return Ok(AddressMatch {
            net: IpNet::any(mask_v6),
            mask: written_family.map_or(MaskShape::Prefix, MaskShape::ZeroAddress),
        });
    }
    if mask_v6 != v6 {
        return Err(bad_mask(mask_text.unwrap_or_default()));
    }
    let addr = if v6 {
        host.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        host.parse::<Ipv4Addr>()
            .ok()
            .or_else(|| {
                numeric_to_ipaddr(host, false)
                    .or_else(|| inet_aton(host))
                    .map(Ipv4Addr::from)
            })
            .map(IpAddr::V4)
    };
    let addr = match addr {
        Some(addr) => addr,
        None if is_host_name(host) => return Ok(host_name(host)),
        None => return Err(format!("`{host}` is not an IP address or a host name")),
    };
    let ones = mask.leading_ones();
    Ok(AddressMatch {
        net: IpNet {
            addr,
            prefix: ones.min(width) as u8,
        },
        mask: if mask_prefix(mask).is_none() {
            MaskShape::Sparse
        } else {
            MaskShape::Prefix
        },
    })
}

/// Whether iptables would look `host` up as a host name: letters, digits,
/// `-`, `_` and `.`, with a letter (names of digits and dots only, like
/// `1.2.3.4.5`, never resolve; `getaddrinfo` refuses them).
fn is_host_name(host: &str) -> bool {
    host.bytes().any(|b| b.is_ascii_alphabetic())
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A host name as an [`AddressMatch`] (see [`MaskShape::HostName`]): any
/// address, with a digest of the name (FNV-1a, twice) in place of one.
fn host_name(host: &str) -> AddressMatch {
    let fnv = |seed: u64| {
        host.bytes().fold(seed, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    let digest =
        (u128::from(fnv(0xcbf2_9ce4_8422_2325)) << 64) | u128::from(fnv(0x84222325_cbf29ce4));
    AddressMatch {
        net: IpNet {
            addr: IpAddr::V6(Ipv6Addr::from(digest)),
            prefix: 0,
        },
        mask: MaskShape::HostName,
    }
}

/// The family a mask of `-s`/`-d` is written in, when it is written as an
/// address (`0.0.0.0`, `::`; a prefix length belongs to neither). Each tool
/// reads only masks of its own family, so a mask of zero written so, which
/// makes iptables ignore the host, still loads in one family only:
/// ip6tables refuses `nonsense/0.0.0.0` ("invalid mask") that iptables
/// takes as any address.
pub fn mask_family(mask: &str) -> Option<Family> {
    if mask.contains(':') {
        Some(Family::V6)
    } else if mask.contains('.') {
        Some(Family::V4)
    } else {
        None
    }
}

/// A mask of `-s`/`-d` in the top bits of 128: a prefix length or an
/// address of the family.
fn parse_mask(text: &str, v6: bool) -> Option<u128> {
    // A mask written as an address has a `.` (IPv4) or a `:` (IPv6).
    let from_address = if !text.contains(['.', ':']) {
        None
    } else if v6 {
        text.parse::<Ipv6Addr>().ok().map(u128::from)
    } else {
        numeric_to_ipaddr(text, true).map(|mask| u128::from(mask) << 96)
    };
    from_address.or_else(|| {
        let width = if v6 { 128 } else { 32 };
        let length = xtables_strtoui(text, 0, width)?;
        Some(u128::MAX.checked_shl(128 - length as u32).unwrap_or(0))
    })
}

/// libxtables' `__numeric_to_ipaddr`: up to four numbers separated by
/// dots, each in C notation from 0 to 255, read from the first 19 bytes of
/// `text`; an address may stop early (the rest is zero), a mask may not.
pub(crate) fn numeric_to_ipaddr(text: &str, is_mask: bool) -> Option<u32> {
    let bytes = &text.as_bytes()[..text.len().min(19)];
    let byte = |part: &[u8]| -> Option<u32> {
        let (value, read) = xtables_strtoui_prefix(part, 255)?;
        (read == part.len()).then_some(value as u32)
    };
    let mut parts = bytes.splitn(4, |&b| b == b'.');
    let mut value = 0u32;
    for index in 0..4 {
        let Some(part) = parts.next() else {
            // Fewer than four numbers: a network address, zero-filled.
            return (!is_mask).then(|| value << (8 * (4 - index)));
        };
        value = (value << 8) | byte(part)?;
    }
    Some(value)
}

/// The address of `ADDR[/MASK]` and the text after its `/`, if any.
fn split_address(text: &str) -> Result<(IpAddr, Option<&str>), String> {
    let (addr_text, mask_text) = match text.split_once('/') {
        Some((addr, mask)) => (addr, Some(mask)),
        None => (text, None),
    };
    let addr = numeric_host(addr_text).ok_or_else(|| {
        format!("`{addr_text}` is not an IP address (iptables-save never writes host names)")
    })?;
    Ok((addr, mask_text))
}

/// `ADDR[/MASK]` as libxtables reads a host and mask for options such as
/// conntrack's `--ctorigsrc` (not as `-s` reads it): the mask is a number in
/// C notation up to 4294967295, where a prefix over the address width
/// counts as the whole address, or an address of the same family (IPv4 in
/// `inet_aton`'s forms) with any bits set. `None` when iptables loads it but
/// the mask is not a prefix (no [`IpNet`] can say what it matches).
pub fn parse_host_mask(text: &str) -> Result<Option<IpNet>, String> {
    let (addr, mask_text) = split_address(text)?;
    let width: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let Some(mask_text) = mask_text else {
        return Ok(Some(IpNet {
            addr,
            prefix: width,
        }));
    };
    if let Some(length) = xtables_strtoui(mask_text, 0, u64::from(u32::MAX)) {
        return Ok(Some(IpNet {
            addr,
            prefix: length.min(u64::from(width)) as u8,
        }));
    }
    let bits = match addr {
        IpAddr::V4(_) => inet_aton(mask_text).map(|mask| u128::from(mask) << 96),
        IpAddr::V6(_) => mask_text.parse::<Ipv6Addr>().ok().map(u128::from),
    }
    .ok_or_else(|| {
        format!("`{mask_text}` is not a prefix length or a mask of the address's family")
    })?;
    Ok(mask_prefix(bits).map(|ones| IpNet {
        addr,
        prefix: ones.min(u32::from(width)) as u8,
    }))
}

/// The prefix length of a mask given as 128 bits (an IPv4 mask in the top
/// 32), when its ones all come first.
pub fn mask_prefix(bits: u128) -> Option<u32> {
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones)
}

/// A numeric host as getaddrinfo reads one (the options libxtables hands
/// to it: host masks, `recent --mask`, `TEE --gateway`): an IPv6 or IPv4
/// address, IPv4 also in [`inet_aton`]'s forms (`1.5` is 1.0.0.5, `0x10`
/// 0.0.0.16).
pub(crate) fn numeric_host(text: &str) -> Option<IpAddr> {
    text.parse()
        .ok()
        .or_else(|| inet_aton(text).map(|a| IpAddr::V4(Ipv4Addr::from(a))))
}

/// glibc's `inet_aton` (the exact form getaddrinfo uses for a numeric
/// IPv4 host): one to four parts in C notation (`0x..`, `0..`, decimal),
/// the last filling the bytes left (`255.255.255` is 255.255.0.255).
pub(crate) fn inet_aton(text: &str) -> Option<u32> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for part in &parts {
        let bytes = part.as_bytes();
        if !bytes.first().is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let (digits, radix) =
            if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
                (hex, 16)
            } else if part.len() > 1 && part.starts_with('0') {
                (&part[1..], 8)
            } else {
                (*part, 10)
            };
        let value = match digits {
            // `0x` needs a digit after it; `0` alone is zero.
            "" if radix == 16 => return None,
            "" => 0,
            _ if digits.starts_with('+') => return None,
            _ => u32::from_str_radix(digits, radix).ok()?,
        };
        values.push(value);
    }
    let (last, leading) = values.split_last()?;
    if leading.iter().any(|&byte| byte > 0xff) {
        return None;
    }
    let last_bits = 8 * (4 - leading.len() as u32);
    if last_bits < 32 && *last >> last_bits != 0 {
        return None;
    }
    let high = leading
        .iter()
        .enumerate()
        .fold(0u32, |acc, (index, &byte)| acc | (byte << (24 - 8 * index)));
    Some(high | last)
}

/// A port as glibc's `getaddrinfo` reads a service, which libxtables'
/// `xtables_getportbyname` (the udp and dccp matches' and conntrack's port
/// options) relies on: decimal digits read by `strtoul` (a sign passes,
/// `022` is 22, `0x16` is no number) whose low 32 bits are a non-negative
/// `int`, kept modulo 65536 (`70000` is port 4464); otherwise a service name.
pub fn parse_service_port(text: &str) -> Result<u16, String> {
    // Rust reads a decimal u16 as strtoul does (`+`, leading zeros).
    if let Ok(port) = text.parse::<u16>() {
        return Ok(port);
    }
    let (value, read) = c_strtoul(text.as_bytes(), 10);
    if read > 0 && read == text.len() {
        let low = value as u32 as i32;
        if low >= 0 {
            return Ok(low as u16);
        }
    } else if let Some(port) = service_port(text) {
        return Ok(port);
    }
    Err(format!(
        "`{text}` does not resolve to a port (a number whose low 32 bits are below 2147483648, or a known service name)"
    ))
}

/// Conntrack's `P`, `P:Q`, `:Q`, `P:` or `:` (libxtables' port range
/// option): each side as [`parse_service_port`] reads it; a side left out
/// is 0 or 65535, and a reversed range loads.
pub fn parse_service_port_range(text: &str) -> Result<PortRange, String> {
    let mut sides = text.split(':');
    let mut side = |default: u16| match sides.next() {
        Some("") | None => Ok(default),
        Some(port) => parse_service_port(port),
    };
    let lo = side(0)?;
    let hi = if text.contains(':') { side(65535)? } else { lo };
    if text.matches(':').count() > 1 {
        return Err(format!("`{text}` has more than two ports"));
    }
    Ok(PortRange { lo, hi })
}

/// An inclusive range of ports, `80` or `1000:2000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    /// First port written: the lowest, unless the range is reversed.
    pub lo: u16,
    /// Last port written: the highest, unless the range is reversed.
    pub hi: u16,
}

impl PortRange {
    /// Every port.
    pub const ALL: PortRange = PortRange { lo: 0, hi: 65535 };

    /// A range written backwards (`-p udp --dport 10:5`): the udp and dccp
    /// matches load it, and the kernel's test `lo <= port && port <= hi`
    /// then holds for no port.
    pub fn is_reversed(&self) -> bool {
        self.lo > self.hi
    }

    /// Whether every port of `other` lies inside `self`.
    pub fn contains(&self, other: &PortRange) -> bool {
        other.is_reversed() || (self.lo <= other.lo && other.hi <= self.hi)
    }

    /// Whether the ranges share a port.
    pub fn overlaps(&self, other: &PortRange) -> bool {
        !self.is_reversed() && !other.is_reversed() && self.lo <= other.hi && other.lo <= self.hi
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}:{}", self.lo, self.hi)
        }
    }
}

/// One port as libxtables' `xtables_parse_port` reads it (the tcp and sctp
/// matches, multiport and the NAT targets' ports): a number in C notation up
/// to 65535 (`022` is 18, `0x16` is 22, `08` is refused) or a service name.
pub fn parse_port(text: &str) -> Result<u16, String> {
    c_number(text)
        .and_then(|port| u16::try_from(port).ok())
        .or_else(|| service_port(text))
        .ok_or_else(|| {
            let octal =
                text.len() > 1 && text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit());
            let hint = if octal {
                " (a leading 0 makes the number octal)"
            } else {
                ""
            };
            format!("`{text}` is not a port number or a known service name{hint}")
        })
}

/// The ports of `P`, `P:Q`, `:Q` or `P:` (or another 16-bit range read as
/// libxtables reads one, `-m length`'s), each read by `port`, in the
/// order written (a missing first port is 0, a missing last one 65535).
pub(crate) fn port_bounds(
    text: &str,
    port: fn(&str) -> Result<u16, String>,
) -> Result<(u16, u16), String> {
    let Some((lo, hi)) = text.split_once(':') else {
        let single = port(text)?;
        return Ok((single, single));
    };
    let lo = if lo.is_empty() { 0 } else { port(lo)? };
    let hi = if hi.is_empty() { 65535 } else { port(hi)? };
    Ok((lo, hi))
}

/// Parse `P`, `P:Q`, `:Q` or `P:` as the udp and dccp matches take them
/// (ports as [`parse_service_port`] reads them: decimal, `022` is 22). They load a reversed range
/// as written: `10:5` stays `lo: 10, hi: 5`, which no port falls in, as in
/// the kernel (see [`PortRange::is_reversed`]).
pub fn parse_port_range(text: &str) -> Result<PortRange, String> {
    // `--dport ""`: libxtables' range parser reads no port as 0 (as
    // conntrack's does, see [`parse_service_port_range`]); iptables-restore
    // 1.8.9 loads it as `--dport 0`.
    if text.is_empty() {
        return Ok(PortRange { lo: 0, hi: 0 });
    }
    let (lo, hi) = port_bounds(text, parse_service_port)?;
    Ok(PortRange { lo, hi })
}

/// Parse `P`, `P:Q`, `:Q` or `P:` as the tcp and sctp matches take them
/// (ports as [`parse_port`] reads them): they refuse a reversed range
/// ("invalid portrange (min > max)").
pub fn parse_ordered_port_range(text: &str) -> Result<PortRange, String> {
    let (lo, hi) = port_bounds(text, parse_port)?;
    if lo > hi {
        return Err(format!("`{text}` is a reversed port range (min > max)"));
    }
    Ok(PortRange { lo, hi })
}

/// Parse the `P` or `P-Q` of a NAT target's `--to-ports` (MASQUERADE,
/// REDIRECT): both ports written (`8080-` and `-8080` are refused, "Port
/// `' not valid"), the first not above the last ("Port range `Q' funky").
/// `P-Q/BASE` (see `strip_shift_base`) only where `shift_allowed`
/// (MASQUERADE, not REDIRECT).
pub fn parse_to_ports(text: &str, shift_allowed: bool) -> Result<PortRange, String> {
    if text.contains(':') {
        return Err(format!(
            "`{text}`: a port range here is written with `-` (`{}`)",
            text.replacen(':', "-", 1)
        ));
    }
    let (lo, hi) = match text.split_once('-') {
        Some((lo, hi)) if lo.is_empty() || hi.is_empty() => {
            return Err(format!("`{text}` needs a port on both sides of `-`"));
        }
        Some((lo, hi)) => (
            parse_port(lo)?,
            parse_port(strip_shift_base(hi, shift_allowed)?)?,
        ),
        None => {
            let only = parse_port(text)?;
            (only, only)
        }
    };
    if lo > hi {
        return Err(format!("`{text}` is a reversed port range (min > max)"));
    }
    Ok(PortRange { lo, hi })
}

/// The last port of a NAT port range `FIRST-LAST[/BASE]` without its
/// `/BASE`: the shifted port map of iptables 1.8 (the port is chosen by the
/// offset of the original one from BASE). As libxt_NAT reads BASE: leading
/// digits for a port 1 to 65535 (what follows them is ignored, so
/// `85/86` loads), otherwise a service name.
fn strip_shift_base(last: &str, shift_allowed: bool) -> Result<&str, String> {
    let Some((last, base)) = last.split_once('/') else {
        return Ok(last);
    };
    if !shift_allowed {
        return Err(format!(
            "`/{base}`: shifted port ranges are not supported by this target"
        ));
    }
    let digits = base.bytes().take_while(u8::is_ascii_digit).count();
    let port = if digits > 0 {
        base[..digits].parse::<u16>().ok()
    } else {
        parse_port(base).ok()
    };
    match port {
        Some(port) if port > 0 => Ok(last),
        _ => Err(format!(
            "`/{base}`: the base port is not a port 1-65535 or a known service name"
        )),
    }
}

/// Parse a multiport list: up to 15 ports, a range counting as two, each
/// range's first port below its last (libxt_multiport refuses `10:5` and
/// `5:5`).
pub fn parse_port_list(text: &str) -> Result<Vec<PortRange>, String> {
    let mut ports = Vec::new();
    let mut slots = 0;
    for item in text.split(',') {
        // Unlike `--dport 80:`, a range of a list has both its ends
        // (libxt_multiport: "invalid port/service `' specified").
        if let Some((lo, hi)) = item.split_once(':')
            && (lo.is_empty() || hi.is_empty())
        {
            return Err(format!(
                "`{item}`: a range in a port list needs its first and its last port"
            ));
        }
        let (lo, hi) = port_bounds(item, parse_port)?;
        let is_range = item.contains(':');
        if is_range && lo >= hi {
            return Err(format!(
                "`{item}` is not a range (its first port must be below its last)"
            ));
        }
        slots += if is_range { 2 } else { 1 };
        ports.push(PortRange { lo, hi });
    }
    if slots > 15 {
        return Err(format!(
            "too many ports in `{text}`: multiport takes at most 15 (a range counts twice)"
        ));
    }
    Ok(ports)
}

/// The few service names that real dumps use in place of numbers.
fn service_port(name: &str) -> Option<u16> {
    Some(match name {
        "ftp-data" => 20,
        "ftp" => 21,
        "ssh" => 22,
        "telnet" => 23,
        "smtp" => 25,
        "domain" => 53,
        "bootps" => 67,
        "bootpc" => 68,
        "tftp" => 69,
        "http" | "www" => 80,
        "pop3" => 110,
        "sunrpc" => 111,
        "auth" | "ident" => 113,
        "ntp" => 123,
        "netbios-ns" => 137,
        "netbios-dgm" => 138,
        "netbios-ssn" => 139,
        "imap2" | "imap" => 143,
        "snmp" => 161,
        "snmp-trap" => 162,
        "ldap" => 389,
        "https" => 443,
        "microsoft-ds" => 445,
        "isakmp" => 500,
        "syslog" => 514,
        "submission" => 587,
        "ldaps" => 636,
        "imaps" => 993,
        "pop3s" => 995,
        "openvpn" => 1194,
        "mysql" => 3306,
        "postgresql" => 5432,
        _ => return None,
    })
}

/// A value with an optional mask, as `--mark` and `--set-xmark` take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MarkValue {
    /// The value.
    pub value: u32,
    /// The mask; `0xffffffff` when not written.
    pub mask: u32,
}

/// Parse `VALUE[/MASK]`, each decimal, hex (`0x`) or octal, as iptables' strtoul does.
pub fn parse_mark(text: &str) -> Result<MarkValue, String> {
    let (value_text, mask_text) = match text.split_once('/') {
        Some((value, mask)) => (value, Some(mask)),
        None => (text, None),
    };
    let value = parse_u32(value_text)?;
    let mask = mask_text.map(parse_u32).transpose()?.unwrap_or(u32::MAX);
    Ok(MarkValue { value, mask })
}

/// Parse an unsigned 32-bit integer in C's notation (`0x..`, `0..`, decimal).
pub fn parse_u32(text: &str) -> Result<u32, String> {
    c_number(text).ok_or_else(|| format!("`{text}` is not an integer between 0 and 4294967295"))
}

/// [`parse_u32`] without the message: for callers that try a number
/// first and a name after it, on every rule. As libxtables'
/// `xtables_strtoui` reads a whole word (a `+` in front of a hexadecimal or
/// octal number too: `+0x10` is 16).
pub fn c_number(text: &str) -> Option<u32> {
    // The common case without a sign or leading zero, read the short way.
    if let Ok(number) = text.parse::<u32>()
        && !text.starts_with(['0', '+'])
    {
        return Some(number);
    }
    xtables_strtoui(text, 0, u64::from(u32::MAX)).map(|number| number as u32)
}

/// What C's `strtoul(text, &end, base)` reads at the start of `text`, for
/// the extensions that hand their values to it unchecked: the value and the
/// number of bytes read. As glibc does, it skips leading white space, takes a
/// sign (`-` negates modulo 2^64), reads `0x` as hexadecimal and a leading
/// `0` as octal when `base` is 0, and gives `u64::MAX` on overflow; when no
/// digit follows, nothing is read (0 bytes), whatever it skipped.
pub fn c_strtoul(text: &[u8], base: u32) -> (u64, usize) {
    let (value, read) = c_strtoul_checked(text, base);
    (value.unwrap_or(u64::MAX), read)
}

/// [`c_strtoul`] with overflow (`ERANGE`) as `None`.
pub fn c_strtoul_checked(text: &[u8], base: u32) -> (Option<u64>, usize) {
    let mut at = text.iter().take_while(|b| is_c_space(**b)).count();
    let negative = match text.get(at) {
        Some(b'-') => {
            at += 1;
            true
        }
        Some(b'+') => {
            at += 1;
            false
        }
        _ => false,
    };
    let hex_prefix = text.get(at) == Some(&b'0')
        && matches!(text.get(at + 1), Some(b'x' | b'X'))
        && text.get(at + 2).is_some_and(u8::is_ascii_hexdigit);
    let base = match base {
        0 | 16 if hex_prefix => {
            at += 2;
            16
        }
        0 if text.get(at) == Some(&b'0') => 8,
        0 => 10,
        base => base,
    };
    let first_digit = at;
    let mut value = Some(0u64);
    while let Some(digit) = text.get(at).and_then(|&b| char::from(b).to_digit(base)) {
        value = value
            .and_then(|v| v.checked_mul(u64::from(base)))
            .and_then(|v| v.checked_add(u64::from(digit)));
        at += 1;
    }
    if at == first_digit {
        return (Some(0), 0);
    }
    (
        value.map(|v| if negative { v.wrapping_neg() } else { v }),
        at,
    )
}

/// C's `atoll`: white space, a sign and decimal digits at the start of
/// `text`, saturating at the bounds of `i64` as `strtoll` does; 0 when no
/// digit comes.
pub fn c_atoll(text: &str) -> i64 {
    let bytes = text.as_bytes();
    let mut at = bytes.iter().take_while(|b| is_c_space(**b)).count();
    let negative = bytes.get(at) == Some(&b'-');
    if matches!(bytes.get(at), Some(b'-' | b'+')) {
        at += 1;
    }
    let mut value: i128 = 0;
    while let Some(digit) = bytes.get(at).filter(|b| b.is_ascii_digit()) {
        value = (value * 10 + i128::from(digit - b'0')).min(i128::from(i64::MAX) + 1);
        at += 1;
    }
    let value = if negative { -value } else { value };
    value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// libxtables' `xtables_strtoui` with an end pointer: a number in C
/// notation at the start of `text` (a `+` but no `-`), at most `max`, and
/// the bytes it took; what follows is the caller's.
pub fn xtables_strtoui_prefix(text: &[u8], max: u64) -> Option<(u64, usize)> {
    let first = text.iter().position(|b| !is_c_space(*b));
    if first.is_some_and(|at| text[at] == b'-') {
        return None;
    }
    match c_strtoul_checked(text, 0) {
        (Some(value), read) if read > 0 && value <= max => Some((value, read)),
        _ => None,
    }
}

/// C's `isspace` in the C locale.
fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// [`xtables_strtoui`] from 0 to `max`, or why not.
pub fn parse_xtables_number(text: &str, max: u64) -> Result<u64, String> {
    xtables_strtoui(text, 0, max)
        .ok_or_else(|| format!("`{text}` is not a number between 0 and {max}"))
}

/// libxtables' `xtables_strtoui` on a whole word: a number in C notation
/// (`0x..`, `0..`, decimal; a `+` but no `-`) from `min` to `max`, with
/// nothing after it.
pub fn xtables_strtoui(text: &str, min: u64, max: u64) -> Option<u64> {
    match xtables_strtoui_prefix(text.as_bytes(), max) {
        Some((value, read)) if read == text.len() && value >= min => Some(value),
        _ => None,
    }
}

/// The DiffServ classes iptables knows by name, in the order its
/// `class_to_dscp` (libxtables' dscp_helper.c) tries them.
const DSCP_CLASSES: &[(&str, u8)] = &[
    ("CS0", 0x00),
    ("CS1", 0x08),
    ("CS2", 0x10),
    ("CS3", 0x18),
    ("CS4", 0x20),
    ("CS5", 0x28),
    ("CS6", 0x30),
    ("CS7", 0x38),
    ("BE", 0x00),
    ("AF11", 0x0a),
    ("AF12", 0x0c),
    ("AF13", 0x0e),
    ("AF21", 0x12),
    ("AF22", 0x14),
    ("AF23", 0x16),
    ("AF31", 0x1a),
    ("AF32", 0x1c),
    ("AF33", 0x1e),
    ("AF41", 0x22),
    ("AF42", 0x24),
    ("AF43", 0x26),
    ("EF", 0x2e),
];

/// A DSCP value of `-m dscp --dscp`: 0 to 63, in C notation.
pub fn parse_dscp(text: &str) -> Result<u8, String> {
    match parse_u32(text) {
        Ok(value) if value <= 63 => Ok(value as u8),
        _ => Err(format!("`{text}` is not a DSCP value between 0 and 63")),
    }
}

/// A DiffServ class name (`--dscp-class`, `--set-dscp-class`). As in
/// iptables, a name matches when it starts with a class's name, in any
/// case (`ef` and `EFX` are EF).
pub fn parse_dscp_class(text: &str) -> Result<u8, String> {
    DSCP_CLASSES
        .iter()
        .find(|(name, _)| {
            text.get(..name.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(name))
        })
        .map(|&(_, value)| value)
        .ok_or_else(|| format!("`{text}` is not a DiffServ class (CS0-CS7, BE, AF11-AF43, EF)"))
}

/// A MAC address.
pub fn parse_mac(text: &str) -> Result<[u8; 6], String> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in mac.iter_mut() {
        let part = parts.next().unwrap_or("");
        *byte = match part.len() {
            1 | 2 => u8::from_str_radix(part, 16).map_err(|_| invalid_mac(text))?,
            _ => return Err(invalid_mac(text)),
        };
    }
    if parts.next().is_some() {
        return Err(invalid_mac(text));
    }
    Ok(mac)
}

fn invalid_mac(text: &str) -> String {
    format!("`{text}` is not a MAC address (six hex bytes separated by `:`)")
}

/// A `--probability` as written and as the kernel applies it. Two are
/// equal when the kernel stores the same number (`0.5` and `0.50000000000`).
#[derive(Debug, Clone, Copy)]
pub struct Probability {
    /// The number written in the dump.
    pub written: f64,
    /// What the kernel stores: `round(written * 2^31)`, as a u32.
    pub stored: u32,
    /// Digits after the decimal point as written (5 for kube-proxy < 1.17,
    /// 10 after, 11 for iptables-save's canonical form).
    pub decimals: u8,
}

impl PartialEq for Probability {
    fn eq(&self, other: &Self) -> bool {
        self.stored == other.stored
    }
}

impl Probability {
    /// The probability the kernel really applies: `stored / 2^31`.
    pub fn effective(&self) -> f64 {
        self.stored as f64 / PROBABILITY_SCALE
    }
}

/// Parse a probability between 0 and 1.
pub fn parse_probability(text: &str) -> Result<Probability, String> {
    let written: f64 = text
        .parse()
        .ok()
        .filter(|p: &f64| p.is_finite())
        .ok_or_else(|| format!("`{text}` is not a number"))?;
    if !(0.0..=1.0).contains(&written) {
        return Err(format!("probability `{text}` is not between 0 and 1"));
    }
    // libxt_statistic.c: info->u.random.probability = lround(0x80000000 * prob)
    let stored = (written * PROBABILITY_SCALE).round() as u32;
    let decimals = text
        .split_once('.')
        .map_or(0, |(_, frac)| frac.len().min(255) as u8);
    Ok(Probability {
        written,
        stored,
        decimals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtoul_reads_like_glibc() {
        let read = |text: &str, base| c_strtoul(text.as_bytes(), base);
        assert_eq!(read("123x", 10), (123, 3));
        assert_eq!(read("0x1f", 0), (31, 4));
        assert_eq!(read("0x", 0), (0, 1));
        assert_eq!(read("0x7e4", 10), (0, 1));
        assert_eq!(read("08", 0), (0, 1));
        assert_eq!(read("017", 0), (15, 3));
        assert_eq!(read("+5", 10), (5, 2));
        assert_eq!(read("-1", 10), (u64::MAX, 2));
        assert_eq!(read("-0", 0), (0, 2));
        assert_eq!(read("+", 10), (0, 0));
        assert_eq!(read("", 0), (0, 0));
        assert_eq!(read("99999999999999999999", 10), (u64::MAX, 20));
        assert_eq!(c_atoll("1.5/s"), 1);
        assert_eq!(c_atoll("-5/s"), -5);
        assert_eq!(c_atoll("x"), 0);
        assert_eq!(c_atoll("99999999999999999999"), i64::MAX);
        assert_eq!(xtables_strtoui("0x10", 0, u64::from(u32::MAX)), Some(16));
        assert_eq!(xtables_strtoui("+5", 0, 10), Some(5));
        assert_eq!(xtables_strtoui("-0", 0, 10), None);
        assert_eq!(xtables_strtoui("5x", 0, 10), None);
        assert_eq!(xtables_strtoui("", 0, 10), None);
        assert_eq!(xtables_strtoui("4294967296", 0, u64::from(u32::MAX)), None);
        assert_eq!(
            xtables_strtoui("18446744073709551615", 0, u64::MAX),
            Some(u64::MAX)
        );
        assert_eq!(xtables_strtoui("18446744073709551616", 0, u64::MAX), None);
    }

    #[test]
    fn host_masks_and_service_ports_as_libxtables_reads_them() {
        let prefix = |text| parse_host_mask(text).unwrap().map(|net| net.prefix);
        assert_eq!(prefix("10.0.0.0/33"), Some(32));
        assert_eq!(prefix("10.0.0.0/4294967295"), Some(32));
        assert_eq!(prefix("10.0.0.0/0x10"), Some(16));
        assert_eq!(prefix("10.0.0.0/255.255.0.0"), Some(16));
        assert_eq!(prefix("10.0.0.0/255.255.255"), None);
        assert_eq!(prefix("10.0.0.0/1.2.3.4"), None);
        assert_eq!(prefix("fd00::/129"), Some(128));
        assert_eq!(prefix("fd00::/ffff::"), Some(16));
        for bad in [
            "10.0.0.0/4294967296",
            "10.0.0.0/x",
            "10.0.0.0/",
            "10.0.0.0/08",
            "10.0.0.0/ffff::",
            "10.0.0.0/256.0.0.0",
            "10.0.0.0/1.16777216",
            "10.0.0.0/0x",
        ] {
            assert!(parse_host_mask(bad).is_err(), "{bad}");
        }
        assert_eq!(inet_aton("1.16777215"), Some(0x01ff_ffff));
        assert_eq!(inet_aton("0x0a.0"), Some(0x0a00_0000));
        assert_eq!(inet_aton("1.2.3.08"), None);
        assert_eq!(parse_service_port("70000"), Ok(4464));
        assert_eq!(parse_service_port("4294967296"), Ok(0));
        assert_eq!(parse_service_port("+5"), Ok(5));
        assert_eq!(parse_service_port("ssh"), Ok(22));
        for bad in ["2147483648", "4294967295", "-2", "0x10", "5x"] {
            assert!(parse_service_port(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_service_port_range(":"), Ok(PortRange::ALL));
        assert_eq!(
            parse_service_port_range("5:3"),
            Ok(PortRange { lo: 5, hi: 3 })
        );
        assert!(parse_service_port_range("5::6").is_err());
    }

    #[test]
    fn addresses_read_as_libxtables_reads_them() {
        let read = |text: &str| {
            let address = parse_address(text).unwrap();
            (address.net.to_string(), address.is_sparse())
        };
        let net = |text: &str| (text.to_string(), false);
        assert_eq!(read("10.96.0.1"), net("10.96.0.1/32"));
        assert_eq!(read("10.0.0.0/8"), net("10.0.0.0/8"));
        // C notation: octal and hexadecimal numbers, missing bytes zero.
        assert_eq!(read("10.0.0.0/010"), net("10.0.0.0/8"));
        assert_eq!(read("10.0.0.0/0x10"), net("10.0.0.0/16"));
        assert_eq!(read("010.0.0.1"), net("8.0.0.1/32"));
        assert_eq!(read("0x0a.1"), net("10.1.0.0/32"));
        assert_eq!(read("10"), net("10.0.0.0/32"));
        assert_eq!(read("0x0a000001"), net("10.0.0.1/32"));
        assert_eq!(read(" 10.0.0.1"), net("10.0.0.1/32"));
        assert_eq!(read("fd00::/0x40"), net("fd00::/64"));
        assert_eq!(read("fd00::/ffff:ffff::"), net("fd00::/32"));
        assert_eq!(read("10.0.0.0/255.255.0.0"), net("10.0.0.0/16"));
        // Masks with gaps: bounded by the prefix they start with.
        assert_eq!(
            read("10.0.0.0/255.0.255.0"),
            ("10.0.0.0/8".to_string(), true)
        );
        assert_eq!(read("10.0.0.0/0.0.0.255"), ("10.0.0.0/0".to_string(), true));
        assert_eq!(
            read("fd00::/ffff:0:ffff::"),
            ("fd00::/16".to_string(), true)
        );
        // A mask of zero: any address, the name ignored.
        assert!(parse_address("nonsense/0").unwrap().is_any());
        // Written as an address, a mask of zero is read in its own family
        // whatever the host; it ties the address to that family, but the
        // kernel holds the same rule as for `/0`.
        let v4_any = parse_address("nonsense/0.0.0.0").unwrap();
        let v6_any = parse_address("10.0.0.1/::").unwrap();
        assert!(v4_any.is_any() && v6_any.is_any());
        assert_eq!(v4_any.zero_mask_family(), Some(Family::V4));
        assert_eq!(v6_any.zero_mask_family(), Some(Family::V6));
        assert_eq!(
            parse_address("fd00::1/0.0.0.0").unwrap().zero_mask_family(),
            Some(Family::V4)
        );
        assert_eq!(
            parse_address("nonsense/0").unwrap().zero_mask_family(),
            None
        );
        assert_eq!(v4_any, parse_address("any/0").unwrap());
        assert!(parse_address("fd00::1/255.0.0.0").is_err());
        // Host names: looked up by iptables, unknown here; any address of
        // either family, and two names never the same address.
        let name = parse_address("backup.example.com").unwrap();
        assert!(name.is_host_name() && name.is_sparse() && !name.is_any());
        assert_eq!(name.family(), None);
        assert_eq!(name, parse_address("backup.example.com").unwrap());
        assert_ne!(name, parse_address("backup2.example.com").unwrap());
        assert!(parse_address("localhost/64").unwrap().is_host_name());
        assert!(parse_address("localhost/0").unwrap().is_any());
        for not_a_name in ["1.2.3.4.5", "010.0.0.0008", "host name", "a@b", ""] {
            assert!(parse_address(not_a_name).is_err(), "{not_a_name}");
        }
        assert_eq!(
            parse_address("10.0.0.1").unwrap().family(),
            Some(Family::V4)
        );
        assert_eq!(parse_address("nonsense/0").unwrap().family(), None);
        assert!(parse_address("10.0.0.1/ffff::").is_err());
        assert!(parse_address("fd00::1/0").unwrap().is_any());
        assert!(!parse_address("10.0.0.0/0.0.0.255").unwrap().is_any());
        for refused in [
            "10.0.0.1/33",
            "fd00::/129",
            "10.0.0.1/-1",
            "10.0.0.0/",
            "/8",
            "10.0.0.1/8/8",
            "1.2.3.4.5",
            "256.0.0.1",
            "010.0.0.0008",
            "10.0.0.0/255.255",
            "10.0.0.0/255.255.255.256",
            "fd00::1/0x81",
            "",
        ] {
            assert!(parse_address(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn ipnets() {
        let net = parse_ipnet("10.0.0.0/8").unwrap();
        assert_eq!(net.prefix, 8);
        assert!(net.contains(&parse_ipnet("10.1.2.3").unwrap()));
        assert!(!net.contains(&parse_ipnet("11.1.2.3").unwrap()));
        assert!(!parse_ipnet("10.1.2.3").unwrap().contains(&net));
        assert_eq!(parse_ipnet("10.0.0.0/255.255.0.0").unwrap().prefix, 16);
        assert!(parse_ipnet("10.0.0.0/255.0.255.0").is_err());
        assert!(parse_ipnet("10.0.0.0/33").is_err());
        assert!(parse_ipnet("example.com").is_err());
        let v6 = parse_ipnet("fd00::/8").unwrap();
        assert!(v6.contains(&parse_ipnet("fd12::1/128").unwrap()));
        assert!(!v6.contains(&parse_ipnet("10.0.0.1").unwrap()));
        assert!(IpNet::any(false).contains(&parse_ipnet("1.2.3.4").unwrap()));
        assert!(parse_ipnet("1.2.3.4/32").unwrap().is_host());
    }

    #[test]
    fn ports() {
        assert_eq!(
            parse_port_range("80").unwrap(),
            PortRange { lo: 80, hi: 80 }
        );
        assert_eq!(
            parse_port_range("1000:2000").unwrap(),
            PortRange { lo: 1000, hi: 2000 }
        );
        assert_eq!(
            parse_port_range(":1024").unwrap(),
            PortRange { lo: 0, hi: 1024 }
        );
        assert_eq!(
            parse_port_range("ssh").unwrap(),
            PortRange { lo: 22, hi: 22 }
        );
        assert!(parse_port_range("nope").is_err());
        // iptables-restore 1.8.9 loads `-p udp --dport ""` as `--dport 0`
        // (and `-p tcp --dport ""` not: "invalid port/service `' specified").
        assert_eq!(parse_port_range("").unwrap(), PortRange { lo: 0, hi: 0 });
        assert!(parse_ordered_port_range("").is_err());
        // udp and dccp: decimal, as getaddrinfo reads a numeric service,
        // modulo 65536 (iptables-save writes `--dport 70000` back as 4464).
        for (written, port) in [("022", 22), ("+53", 53), ("70000", 4464), ("65536", 0)] {
            assert_eq!(parse_service_port(written), Ok(port), "{written}");
        }
        for refused in ["0x16", "-5", "22 ", "1e2", "99999999999999999999"] {
            assert!(parse_service_port(refused).is_err(), "{refused}");
        }
        // tcp, sctp, multiport, NAT: C notation up to 65535.
        for (written, port) in [
            ("022", 18),
            ("0x16", 22),
            ("+0x16", 22),
            ("0", 0),
            ("ssh", 22),
        ] {
            assert_eq!(parse_port(written), Ok(port), "{written}");
        }
        assert_eq!(
            parse_port("08"),
            Err("`08` is not a port number or a known service name (a leading 0 makes the number octal)".to_string())
        );
        for refused in ["70000", "0x10000", "-1", "0x"] {
            assert!(parse_port(refused).is_err(), "{refused}");
        }
        assert_eq!(
            parse_ordered_port_range("022:0x20").unwrap(),
            PortRange { lo: 18, hi: 32 }
        );
        assert_eq!(
            parse_port_range("022:030").unwrap(),
            PortRange { lo: 22, hi: 30 }
        );
        assert_eq!(parse_port_list("22,80:90,443").unwrap().len(), 3);
        assert!(parse_port_list("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16").is_err());
        // Reversed ranges: kept as written (and empty) for udp, refused by
        // tcp, NAT and multiport.
        let reversed = parse_port_range("10:5").unwrap();
        assert_eq!(reversed, PortRange { lo: 10, hi: 5 });
        assert!(reversed.is_reversed());
        assert!(!reversed.overlaps(&PortRange::ALL));
        assert!(PortRange { lo: 7, hi: 7 }.contains(&reversed));
        assert!(parse_ordered_port_range("10:5").is_err());
        assert_eq!(
            parse_ordered_port_range("8070:").unwrap(),
            PortRange {
                lo: 8070,
                hi: 65535
            }
        );
        // `--to-ports` wants both ports of a range.
        assert_eq!(
            parse_to_ports("8070-8080", false).unwrap(),
            PortRange { lo: 8070, hi: 8080 }
        );
        assert_eq!(
            parse_to_ports("80", false).unwrap(),
            PortRange { lo: 80, hi: 80 }
        );
        // A shifted port map, `FIRST-LAST/BASE`, where the target takes one.
        assert_eq!(
            parse_to_ports("80-90/85", true).unwrap(),
            PortRange { lo: 80, hi: 90 }
        );
        for base in ["85x", "85/86", "ssh", "065535"] {
            assert!(
                strip_shift_base(&format!("90/{base}"), true).is_ok(),
                "{base}"
            );
        }
        for base in ["", "0", "70000", "x"] {
            assert!(
                strip_shift_base(&format!("90/{base}"), true).is_err(),
                "{base}"
            );
        }
        assert!(parse_to_ports("80-90/85", false).is_err());
        for refused in ["8070-", "-8070", "8080-8070", "80:90", "80/85"] {
            assert!(parse_to_ports(refused, true).is_err(), "{refused}");
        }
        assert!(parse_port_list("5:5").is_err());
        assert_eq!(parse_port_list("5,5:6").unwrap().len(), 2);
        // iptables-restore 1.8.9: "invalid port/service `' specified".
        for open in ["636:", ":636", ":", "1,2:"] {
            assert!(parse_port_list(open).is_err(), "{open}");
        }
    }

    #[test]
    fn dscp_values_and_classes_as_iptables_reads_them() {
        assert_eq!(parse_dscp("0x3f"), Ok(63));
        assert_eq!(parse_dscp("077"), Ok(63));
        assert!(parse_dscp("0100").is_err() && parse_dscp("64").is_err());
        assert_eq!(parse_dscp_class("ef"), Ok(0x2e));
        assert_eq!(parse_dscp_class("EFX"), Ok(0x2e));
        assert_eq!(parse_dscp_class("af41"), Ok(0x22));
        assert!(parse_dscp_class("AF44").is_err() && parse_dscp_class("E").is_err());
    }

    #[test]
    fn marks() {
        assert_eq!(
            parse_mark("0x4000/0x4000").unwrap(),
            MarkValue {
                value: 0x4000,
                mask: 0x4000
            }
        );
        assert_eq!(
            parse_mark("7").unwrap(),
            MarkValue {
                value: 7,
                mask: u32::MAX
            }
        );
        assert_eq!(parse_u32("010").unwrap(), 8);
        // xtables_strtoui: a sign in front of any notation, never `-`.
        assert_eq!(c_number("+0x10"), Some(16));
        assert_eq!(c_number("+010"), Some(8));
        assert_eq!(c_number("+7"), Some(7));
        assert_eq!(c_number("4294967295"), Some(u32::MAX));
        for refused in ["-1", "4294967296", "0x", "08", "+", "1x", ""] {
            assert_eq!(c_number(refused), None, "{refused}");
        }
        assert!(parse_mark("").is_err());
        assert!(parse_mark("-j").is_err());
    }

    #[test]
    fn macs() {
        assert_eq!(
            parse_mac("00:1a:2B:3c:4d:5e").unwrap(),
            [0, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e]
        );
        assert!(parse_mac("XX:XX:XX:XX:XX:XX").is_err());
        assert!(parse_mac("00:11:22:33:44").is_err());
        assert!(parse_mac("00:11:22:33:44:55:66").is_err());
    }

    #[test]
    fn probabilities_are_quantised_like_the_kernel() {
        // Values read back from the kernel by iptables-save (%.11f).
        let cases = [
            ("0.2", 0.20000000019),
            ("0.25", 0.25),
            ("0.3333333333", 0.33333333349),
            ("0.5", 0.5),
        ];
        for (written, saved) in cases {
            let p = parse_probability(written).unwrap();
            assert!(
                (p.effective() - saved).abs() < 5e-12,
                "{written}: {}",
                p.effective()
            );
        }
        assert_eq!(parse_probability("0.20000").unwrap().decimals, 5);
        assert!(parse_probability("1.5").is_err());
        assert!(parse_probability("NaN").is_err());
    }
}
