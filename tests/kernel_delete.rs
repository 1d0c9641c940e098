//! `-D RULE` finds a rule the way the kernel does. iptables compares the
//! entries it would load (addresses after masking, the protocol number,
//! each match's and the target's data), not the text: `-D INPUT -p tcp -m
//! tcp --dport ssh -j ACCEPT` deletes the rule added as `-A INPUT -p tcp
//! --dport 22 -j ACCEPT`. Every pair of the spellings below is loaded as
//! `-A` one, `-D` the other; iptlint must report "no such rule" exactly when
//! the kernel refuses the pair.
//!
//! Needs root, `unshare` and iptables (legacy and nft when both work);
//! skips with a visible message otherwise.

mod support;

use support::{Family, Kernel};

/// Spellings of rules, grouped by the entry they load: the kernel deletes
/// a rule by any spelling of its group and by no other (the test checks
/// that too, so that the pairs are what they claim). `X` is a user chain
/// the dump declares; the rules are in FORWARD, where `-i` and `-o` load.
const GROUPS: &[&[&str]] = &[
    &[
        "-p tcp --dport 22 -j ACCEPT",
        "-p tcp -m tcp --dport 22 -j ACCEPT",
        "--protocol 6 --destination-port ssh --jump ACCEPT",
        "-p tcp -m tcp --dport 22:22 -j ACCEPT",
    ],
    &["-p tcp --dport 23 -j ACCEPT"],
    &["-p tcp --sport 22 -j ACCEPT"],
    &[
        "-s 10.0.0.1 -j DROP",
        "-s 10.0.0.1/32 -j DROP",
        "--source 10.0.0.1/255.255.255.255 -j DROP",
    ],
    &["! -s 10.0.0.1 -j DROP"],
    &["-d 10.0.0.1 -j DROP"],
    &[
        "-s 10.1.0.0/16 -d 10.2.3.0/24 -j RETURN",
        "-s 10.1.2.3/16 -d 10.2.3.4/255.255.255.0 -j RETURN",
    ],
    &[
        "-m state --state ESTABLISHED,RELATED -j ACCEPT",
        "-m state --state RELATED,ESTABLISHED -j ACCEPT",
        "-m state --state est,rel -j ACCEPT",
    ],
    &["-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"],
    &[
        "-p udp -m udp --sport 53 -m comment --comment \"dns\" -j ACCEPT",
        "-p udp --source-port 53 -m comment --comment dns -j ACCEPT",
    ],
    &["-p udp -m comment --comment dns -m udp --sport 53 -j ACCEPT"],
    &[
        "-m statistic --mode random --probability 0.5 -j X",
        "-m statistic --mode random --probability 0.50000000000 -j X",
    ],
    &["-m statistic --mode random --probability 0.25 -j X"],
    &[
        "-i eth0 -o eth1 -j ACCEPT",
        "--in-interface eth0 --out-interface eth1 -j ACCEPT",
    ],
    &["-i eth+ -o eth1 -j ACCEPT"],
    &[
        "-p tcp -m multiport --dports 80,443 -j ACCEPT",
        "-p tcp -m multiport --destination-ports 80,443 -j ACCEPT",
    ],
    &["-p tcp -m multiport --dports 443,80 -j ACCEPT"],
    &[
        "-m mark --mark 0x1/0x1 -j ACCEPT",
        "-m mark --mark 1/1 -j ACCEPT",
    ],
    &["-j LOG --log-prefix x", "-j LOG --log-prefix \"x\""],
    &["-j LOG --log-prefix y"],
    &[
        "-j ACCEPT",
        "-p all -j ACCEPT",
        "-s 0.0.0.0/0 -j ACCEPT",
        "-d 0/0 -p 0 -j ACCEPT",
    ],
    &["-f -j DROP", "--fragment -j DROP"],
    &["-g X", "--goto X"],
    &["-j X", "--jump X"],
    &["-m comment --comment \"a b\" -j X"],
    &[
        "-j REJECT",
        "-j REJECT --reject-with icmp-port-unreachable",
        "-j REJECT --reject-with port-unreach",
        "-j REJECT --reject-with ICMP-PORT",
    ],
    &[
        "-j REJECT --reject-with icmp-host-unreachable",
        "-j REJECT --reject-with icmp-host-u",
    ],
    // An ICMP type by name, alias, abbreviation or number: its type and
    // range of codes.
    &[
        "-p icmp --icmp-type echo-request -j ACCEPT",
        "-p icmp -m icmp --icmp-type 8 -j ACCEPT",
        "-p icmp --icmp-type PING -j ACCEPT",
        "-p icmp --icmp-type 8/0:255 -j ACCEPT",
    ],
    &["-p icmp --icmp-type 8/0 -j ACCEPT"],
    &["-p icmp ! --icmp-type 8 -j ACCEPT"],
    &[
        "-p icmp --icmp-type port-unreachable -j ACCEPT",
        "-p icmp --icmp-type 3/3 -j ACCEPT",
        "-p icmp --icmp-type port-unr -j ACCEPT",
    ],
    &[
        "-p icmp --icmp-type any -j ACCEPT",
        "-p icmp --icmp-type 255 -j ACCEPT",
    ],
    // Matches iptlint keeps untyped: their options in any order, a packet
    // type in any case, a DSCP value in any of C's notations.
    &[
        "-m hashlimit --hashlimit-upto 10/sec --hashlimit-name x -j ACCEPT",
        "-m hashlimit --hashlimit-name x --hashlimit-upto 10/sec -j ACCEPT",
    ],
    &[
        "-m string --algo bm --string abc -j DROP",
        "-m string --string abc --algo bm -j DROP",
    ],
    &[
        "-m time --timestart 08:00 --timestop 17:00 -j ACCEPT",
        "-m time --timestop 17:00 --timestart 08:00 -j ACCEPT",
    ],
    &[
        "-m pkttype --pkt-type broadcast -j DROP",
        "-m pkttype --pkt-type BROADCAST -j DROP",
    ],
    &["-m pkttype --pkt-type multicast -j DROP"],
    &["-m dscp --dscp 10 -j DROP", "-m dscp --dscp 0xa -j DROP"],
    &["-m dscp --dscp 11 -j DROP"],
    // LOG's level by name or number, left out when it is the default; the
    // options in any order.
    &[
        "-j LOG",
        "-j LOG --log-level 4",
        "-j LOG --log-level warning",
    ],
    &[
        "-j LOG --log-level debug --log-prefix x",
        "-j LOG --log-prefix x --log-level 7",
    ],
    &[
        "-j LOG --log-level alert --log-ip-options --log-uid",
        "-j LOG --log-uid --log-level 1 --log-ip-options",
    ],
    &[
        "-j LOG --log-level emerg",
        "-j LOG --log-level panic",
        "-j LOG --log-level 0",
    ],
    // CONNMARK's ways to set a mark, and the default masks of saving and
    // restoring one.
    &[
        "-j CONNMARK --set-mark 1",
        "-j CONNMARK --set-xmark 0x1/0xffffffff",
    ],
    &["-j CONNMARK --or-mark 0x4", "-j CONNMARK --set-xmark 4/4"],
    &[
        "-j CONNMARK --xor-mark 0x2",
        "-j CONNMARK --set-xmark 0x2/0x0",
    ],
    &[
        "-j CONNMARK --set-mark 0x2/0x4",
        "-j CONNMARK --set-xmark 0x2/0x6",
    ],
    &[
        "-j CONNMARK --save-mark",
        "-j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff",
        "-j CONNMARK --save-mark --mask 0xffffffff",
    ],
    &[
        "-j CONNMARK --restore-mark --mask 0xff",
        "-j CONNMARK --restore-mark --ctmask 255 --nfmask 0xff",
    ],
];

#[test]
fn delete_finds_the_rule_the_kernel_finds() {
    let kernels = Kernel::all("delete_finds_the_rule_the_kernel_finds");
    if kernels.is_empty() {
        return;
    }
    let spellings: Vec<&str> = GROUPS
        .iter()
        .flat_map(|group| group.iter().copied())
        .collect();
    let dumps: Vec<String> = spellings
        .iter()
        .flat_map(|added| {
            spellings.iter().map(move |deleted| {
                format!("*filter\n:X - [0:0]\n-A FORWARD {added}\n-D FORWARD {deleted}\nCOMMIT\n")
            })
        })
        .collect();
    for kernel in &kernels {
        let verdicts = kernel.restore_each(
            &dumps
                .iter()
                .map(|dump| (Family::V4, dump.as_str()))
                .collect::<Vec<_>>(),
        );
        let mut disagreements = Vec::new();
        let (mut deleted, mut refused) = (0, 0);
        for (dump, verdict) in dumps.iter().zip(&verdicts) {
            let iptlint = kernel.refusals_by_iptlint(dump);
            match verdict {
                Ok(()) => deleted += 1,
                Err(_) => refused += 1,
            }
            if verdict.is_ok() != iptlint.is_empty() {
                disagreements.push(format!(
                    "{dump}kernel ({}): {verdict:?}\niptlint: {iptlint:?}\n",
                    kernel.backend
                ));
            }
        }
        eprintln!(
            "{}: {} pairs, {deleted} deleted and {refused} refused by the kernel",
            kernel.backend,
            dumps.len()
        );
        let same_group: usize = GROUPS.iter().map(|group| group.len() * group.len()).sum();
        assert_eq!(
            (deleted, refused),
            (same_group, dumps.len() - same_group),
            "the kernel deletes a rule by the spellings of its group only"
        );
        assert!(
            disagreements.is_empty(),
            "{} of {} pairs apart:\n{}",
            disagreements.len(),
            dumps.len(),
            disagreements.join("\n")
        );
    }
}
