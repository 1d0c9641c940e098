//! An in-memory iptables table that is written out in iptables-save order.
//!
//! Rules are appended per chain while services are generated, but
//! iptables-save prints built-in chains first (in hook order), then user chains
//! sorted by name, and then all rules grouped by chain in that same order. The
//! table therefore keeps every rule body in one text arena and only decides the
//! final order (and thus the line numbers) when it is written.

use std::fmt::{self, Write};
use std::net::Ipv4Addr;

use super::Protocol;

/// Bytes accounted per simulated packet: the first packet of a TCP connection
/// (a SYN with options) is typically 60 bytes.
pub(crate) const BYTES_PER_PACKET: u64 = 60;

/// Index of a chain within its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChainId(u32);

/// Index of a rule within its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RuleId(u32);

/// An IPv4 network in the `a.b.c.d/len` form iptables-save always prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cidr {
    pub(crate) addr: Ipv4Addr,
    pub(crate) prefix: u8,
}

impl Cidr {
    /// A single host, printed with `/32` as iptables-save does.
    pub(crate) fn host(addr: Ipv4Addr) -> Self {
        Cidr { addr, prefix: 32 }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

struct Chain {
    name: String,
    /// `ACCEPT` for built-in chains, `-` for user chains.
    policy: &'static str,
    /// Packets that reached the built-in chain's policy.
    policy_packets: u64,
}

struct Rule {
    chain: ChainId,
    /// Byte range of the rule body (everything after `-A CHAIN`) in `Table::text`.
    start: u32,
    end: u32,
    packets: u64,
}

/// One table (`filter`, `nat`) under construction.
pub(crate) struct Table {
    name: &'static str,
    chains: Vec<Chain>,
    builtin_count: usize,
    rules: Vec<Rule>,
    text: String,
}

/// Where each rule and chain declaration landed in the written dump.
pub(crate) struct TableLines {
    rule_lines: Vec<u32>,
    chain_lines: Vec<u32>,
}

impl TableLines {
    /// 1-based line of a rule.
    pub(crate) fn rule(&self, rule: RuleId) -> usize {
        self.rule_lines[rule.0 as usize] as usize
    }

    /// 1-based line of a chain declaration.
    pub(crate) fn chain(&self, chain: ChainId) -> usize {
        self.chain_lines[chain.0 as usize] as usize
    }
}

impl Table {
    /// A table whose built-in chains (in hook order) all have policy ACCEPT.
    pub(crate) fn new(name: &'static str, builtins: &[&str]) -> Self {
        let chains = builtins
            .iter()
            .map(|&name| Chain {
                name: name.to_owned(),
                policy: "ACCEPT",
                policy_packets: 0,
            })
            .collect();
        Table {
            name,
            chains,
            builtin_count: builtins.len(),
            rules: Vec::new(),
            text: String::new(),
        }
    }

    /// Reserves room for about `rules` rules of typical kube-proxy length.
    pub(crate) fn reserve(&mut self, rules: usize) {
        self.rules.reserve(rules);
        self.text.reserve(rules * 110);
    }

    /// A built-in chain by name.
    ///
    /// # Panics
    /// If the table has no such built-in chain (a bug in the caller).
    pub(crate) fn builtin(&self, name: &str) -> ChainId {
        let index = self.chains[..self.builtin_count]
            .iter()
            .position(|chain| chain.name == name)
            .unwrap_or_else(|| panic!("{} has no built-in chain {name}", self.name));
        ChainId(index as u32)
    }

    /// Declares a user chain (`:NAME - [0:0]`).
    pub(crate) fn declare(&mut self, name: String) -> ChainId {
        debug_assert!(name.len() <= 28, "chain name too long: {name}");
        self.chains.push(Chain {
            name,
            policy: "-",
            policy_packets: 0,
        });
        ChainId((self.chains.len() - 1) as u32)
    }

    /// Appends a rule to `chain`; `write_body` writes everything after
    /// `-A CHAIN`, each part with its leading space.
    pub(crate) fn push(
        &mut self,
        chain: ChainId,
        write_body: impl FnOnce(&mut RuleText),
    ) -> RuleId {
        let start = self.text.len() as u32;
        write_body(&mut RuleText {
            out: &mut self.text,
        });
        let end = self.text.len() as u32;
        self.rules.push(Rule {
            chain,
            start,
            end,
            packets: 0,
        });
        RuleId((self.rules.len() - 1) as u32)
    }

    /// Appends a copy of an existing rule to the same chain.
    pub(crate) fn push_copy(&mut self, rule: RuleId) -> RuleId {
        let original = &self.rules[rule.0 as usize];
        let (chain, start, end) = (original.chain, original.start, original.end);
        let new_start = self.text.len() as u32;
        self.text.extend_from_within(start as usize..end as usize);
        self.rules.push(Rule {
            chain,
            start: new_start,
            end: self.text.len() as u32,
            packets: 0,
        });
        RuleId((self.rules.len() - 1) as u32)
    }

    /// Sets the packet counter of a rule (bytes follow from it).
    pub(crate) fn set_packets(&mut self, rule: RuleId, packets: u64) {
        self.rules[rule.0 as usize].packets = packets;
    }

    /// Sets the policy counter of a built-in chain.
    pub(crate) fn set_policy_packets(&mut self, chain: ChainId, packets: u64) {
        self.chains[chain.0 as usize].policy_packets = packets;
    }

    /// Writes the table in iptables-save order, between the header and footer
    /// comments iptables-save writes, and returns where each rule and chain
    /// declaration went. `line` is the number of lines already in `out`
    /// and is advanced past the table.
    pub(crate) fn write(
        &self,
        out: &mut String,
        line: &mut u32,
        saved_by: &str,
        date: &str,
        with_rule_counters: bool,
    ) -> TableLines {
        // Built-in chains keep hook order; user chains are sorted by byte value.
        let mut order: Vec<u32> = (0..self.chains.len() as u32).collect();
        order[self.builtin_count..].sort_unstable_by(|&a, &b| {
            self.chains[a as usize]
                .name
                .cmp(&self.chains[b as usize].name)
        });
        let mut position = vec![0u32; self.chains.len()];
        for (pos, &chain) in order.iter().enumerate() {
            position[chain as usize] = pos as u32;
        }

        // Counting sort of rules by chain position keeps insertion order within
        // a chain, as iptables-save keeps rule order.
        let mut starts = vec![0u32; self.chains.len() + 1];
        for rule in &self.rules {
            starts[position[rule.chain.0 as usize] as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut sorted = vec![0u32; self.rules.len()];
        let mut next = starts.clone();
        for (id, rule) in self.rules.iter().enumerate() {
            let slot = &mut next[position[rule.chain.0 as usize] as usize];
            sorted[*slot as usize] = id as u32;
            *slot += 1;
        }

        let mut chain_lines = vec![0u32; self.chains.len()];
        let mut rule_lines = vec![0u32; self.rules.len()];
        let mut emit_line = |out: &mut String| {
            out.push('\n');
            *line += 1;
            *line
        };

        let _ = write!(out, "# Generated by {saved_by} on {date}");
        emit_line(out);
        let _ = write!(out, "*{}", self.name);
        emit_line(out);
        for &chain in &order {
            let decl = &self.chains[chain as usize];
            let packets = decl.policy_packets;
            let _ = write!(
                out,
                ":{} {} [{}:{}]",
                decl.name,
                decl.policy,
                packets,
                packets * BYTES_PER_PACKET
            );
            chain_lines[chain as usize] = emit_line(out);
        }
        for &id in &sorted {
            let rule = &self.rules[id as usize];
            if with_rule_counters {
                let _ = write!(
                    out,
                    "[{}:{}] ",
                    rule.packets,
                    rule.packets * BYTES_PER_PACKET
                );
            }
            out.push_str("-A ");
            out.push_str(&self.chains[rule.chain.0 as usize].name);
            out.push_str(&self.text[rule.start as usize..rule.end as usize]);
            rule_lines[id as usize] = emit_line(out);
        }
        out.push_str("COMMIT");
        emit_line(out);
        let _ = write!(out, "# Completed on {date}");
        emit_line(out);

        TableLines {
            rule_lines,
            chain_lines,
        }
    }

    /// An upper estimate of the bytes `write` produces, to size the output once.
    pub(crate) fn estimated_len(&self) -> usize {
        let names: usize = self.chains.iter().map(|c| c.name.len() + 24).sum();
        self.text.len() + self.rules.len() * 64 + names + 256
    }
}

/// Writes the parts of one rule body in iptables-save's canonical order; the
/// caller calls the methods in that order (addresses, protocol, matches,
/// target).
pub(crate) struct RuleText<'a> {
    out: &'a mut String,
}

impl RuleText<'_> {
    /// `-s NET`
    pub(crate) fn src(&mut self, net: Cidr) -> &mut Self {
        let _ = write!(self.out, " -s {net}");
        self
    }

    /// `! -s NET`
    pub(crate) fn not_src(&mut self, net: Cidr) -> &mut Self {
        let _ = write!(self.out, " ! -s {net}");
        self
    }

    /// `-d NET`
    pub(crate) fn dst(&mut self, net: Cidr) -> &mut Self {
        let _ = write!(self.out, " -d {net}");
        self
    }

    /// `-p tcp|udp`
    pub(crate) fn proto(&mut self, protocol: Protocol) -> &mut Self {
        self.out.push_str(" -p ");
        self.out.push_str(protocol.as_str());
        self
    }

    /// `-m comment --comment "TEXT"`. Every comment kube-proxy writes contains
    /// a space or a `/`, so iptables-save always quotes it; none contains a
    /// character that would need escaping.
    pub(crate) fn comment(&mut self, text: fmt::Arguments<'_>) -> &mut Self {
        let _ = write!(self.out, " -m comment --comment \"{text}\"");
        self
    }

    /// `-m tcp|udp`, as iptables-save prints the protocol match.
    pub(crate) fn proto_match(&mut self, protocol: Protocol) -> &mut Self {
        self.out.push_str(" -m ");
        self.out.push_str(protocol.as_str());
        self
    }

    /// `-m tcp|udp --dport PORT`
    pub(crate) fn dport(&mut self, protocol: Protocol, port: u16) -> &mut Self {
        self.proto_match(protocol);
        let _ = write!(self.out, " --dport {port}");
        self
    }

    /// `-m statistic --mode random --probability P`
    pub(crate) fn probability(&mut self, written: &str) -> &mut Self {
        self.out
            .push_str(" -m statistic --mode random --probability ");
        self.out.push_str(written);
        self
    }

    /// `-m recent --set` as iptables-save prints it (session affinity, DNAT side).
    pub(crate) fn recent_set(&mut self, name: &str) -> &mut Self {
        let _ = write!(
            self.out,
            " -m recent --set --name {name} --mask 255.255.255.255 --rsource"
        );
        self
    }

    /// `-m recent --rcheck` as iptables-save prints it (session affinity,
    /// service side).
    pub(crate) fn recent_rcheck(&mut self, name: &str, seconds: u32) -> &mut Self {
        let _ = write!(
            self.out,
            " -m recent --rcheck --seconds {seconds} --reap --name {name} --mask 255.255.255.255 --rsource"
        );
        self
    }

    /// Any other literal part; `part` must start with a space.
    pub(crate) fn raw(&mut self, part: &str) -> &mut Self {
        debug_assert!(part.starts_with(' '));
        self.out.push_str(part);
        self
    }

    /// `-j TARGET`
    pub(crate) fn jump(&mut self, target: &str) -> &mut Self {
        self.out.push_str(" -j ");
        self.out.push_str(target);
        self
    }

    /// `-j DNAT --to-destination IP:PORT`
    pub(crate) fn dnat(&mut self, ip: Ipv4Addr, port: u16) -> &mut Self {
        let _ = write!(self.out, " -j DNAT --to-destination {ip}:{port}");
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_in_iptables_save_order_and_counts_lines() {
        let mut table = Table::new("nat", &["PREROUTING", "OUTPUT"]);
        let zeta = table.declare("ZETA".to_owned());
        let alpha = table.declare("ALPHA".to_owned());
        let z_rule = table.push(zeta, |r| {
            r.jump("ACCEPT");
        });
        let pre = table.builtin("PREROUTING");
        let pre_rule = table.push(pre, |r| {
            r.jump("ZETA");
        });
        let a_rule = table.push(alpha, |r| {
            r.src(Cidr::host(Ipv4Addr::new(10, 0, 0, 1))).jump("RETURN");
        });
        table.set_packets(a_rule, 2);

        let mut out = String::from("# leading line\n");
        let mut line = 1;
        let lines = table.write(&mut out, &mut line, "iptables-save v1.8.9", "X", true);
        let expected = "# leading line
# Generated by iptables-save v1.8.9 on X
*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:ALPHA - [0:0]
:ZETA - [0:0]
[0:0] -A PREROUTING -j ZETA
[2:120] -A ALPHA -s 10.0.0.1/32 -j RETURN
[0:0] -A ZETA -j ACCEPT
COMMIT
# Completed on X
";
        assert_eq!(out, expected);
        assert_eq!(line, 12);
        assert_eq!(lines.rule(pre_rule), 8);
        assert_eq!(lines.rule(a_rule), 9);
        assert_eq!(lines.rule(z_rule), 10);
        assert_eq!(lines.chain(alpha), 6);
    }
}
