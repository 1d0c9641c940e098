//! The chains kube-proxy and kubelet set up on every node, whatever the
//! services: the entry jumps from the built-in chains, KUBE-FORWARD,
//! KUBE-FIREWALL, KUBE-MARK-MASQ, KUBE-POSTROUTING.

use std::net::Ipv4Addr;

use super::emit::TableKind;
use super::table::{ChainId, Cidr, RuleId, Table};

/// kube-proxy's `--cluster-cidr` in the generated cluster.
pub(crate) const CLUSTER_CIDR: Cidr = Cidr {
    addr: Ipv4Addr::new(10, 0, 0, 0),
    prefix: 8,
};
pub(crate) const LOOPBACK: Cidr = Cidr {
    addr: Ipv4Addr::new(127, 0, 0, 0),
    prefix: 8,
};
pub(crate) const MARK_MASQ: &str = "KUBE-MARK-MASQ";
pub(crate) const MARK_DROP: &str = "KUBE-MARK-DROP";

/// Rules and chains every packet of the simulated traffic passes.
pub(crate) struct BaseRecord {
    /// Jumps every simulated packet takes (PREROUTING -> KUBE-SERVICES, ...).
    pub(crate) every_packet: Vec<(TableKind, RuleId)>,
    pub(crate) nat_prerouting: ChainId,
    pub(crate) nat_postrouting: ChainId,
    pub(crate) filter_forward: ChainId,
}

/// Well-known chains of both tables.
pub(crate) struct KubeChains {
    pub(crate) nat_services: ChainId,
    pub(crate) nat_nodeports: ChainId,
    pub(crate) filter_services: ChainId,
    pub(crate) filter_external: ChainId,
    /// Modern only.
    pub(crate) filter_nodeports: Option<ChainId>,
    pub(crate) filter_proxy_firewall: Option<ChainId>,
}

/// kube-proxy >= 1.25 (and kubelet) base chains, as in a v1.28 node dump.
pub(crate) fn write_modern_base(filter: &mut Table, nat: &mut Table) -> (BaseRecord, KubeChains) {
    let filter_external = filter.declare("KUBE-EXTERNAL-SERVICES".into());
    let filter_firewall = filter.declare("KUBE-FIREWALL".into());
    let filter_forward_chain = filter.declare("KUBE-FORWARD".into());
    let filter_nodeports = filter.declare("KUBE-NODEPORTS".into());
    let filter_proxy_firewall = filter.declare("KUBE-PROXY-FIREWALL".into());
    let filter_services = filter.declare("KUBE-SERVICES".into());
    let (input, forward, output) = (
        filter.builtin("INPUT"),
        filter.builtin("FORWARD"),
        filter.builtin("OUTPUT"),
    );
    let new_jump = |filter: &mut Table, from: ChainId, comment: &str, to: &str| {
        filter.push(from, |r| {
            r.raw(" -m conntrack --ctstate NEW")
                .comment(format_args!("{comment}"))
                .jump(to);
        })
    };
    let lb_firewall = "kubernetes load balancer firewall";
    let externally_visible = "kubernetes externally-visible service portals";
    let service_portals = "kubernetes service portals";
    new_jump(filter, input, lb_firewall, "KUBE-PROXY-FIREWALL");
    filter.push(input, |r| {
        r.comment(format_args!("kubernetes health check service ports"))
            .jump("KUBE-NODEPORTS");
    });
    new_jump(filter, input, externally_visible, "KUBE-EXTERNAL-SERVICES");
    filter.push(input, |r| {
        r.jump("KUBE-FIREWALL");
    });
    let mut every_packet = vec![];
    every_packet.push(new_jump(
        filter,
        forward,
        lb_firewall,
        "KUBE-PROXY-FIREWALL",
    ));
    every_packet.push(filter.push(forward, |r| {
        r.comment(format_args!("kubernetes forwarding rules"))
            .jump("KUBE-FORWARD");
    }));
    every_packet.push(new_jump(filter, forward, service_portals, "KUBE-SERVICES"));
    every_packet.push(new_jump(
        filter,
        forward,
        externally_visible,
        "KUBE-EXTERNAL-SERVICES",
    ));
    new_jump(filter, output, lb_firewall, "KUBE-PROXY-FIREWALL");
    new_jump(filter, output, service_portals, "KUBE-SERVICES");
    filter.push(output, |r| {
        r.jump("KUBE-FIREWALL");
    });
    filter.push(filter_firewall, |r| {
        r.not_src(LOOPBACK)
            .dst(LOOPBACK)
            .comment(format_args!("block incoming localnet connections"))
            .raw(" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP");
    });
    write_forward_chain(filter, filter_forward_chain, false);

    let nat_services = nat.declare("KUBE-SERVICES".into());
    let nat_nodeports = nat.declare("KUBE-NODEPORTS".into());
    let mark_masq = nat.declare(MARK_MASQ.into());
    let postrouting_chain = nat.declare("KUBE-POSTROUTING".into());
    let (prerouting, nat_output, postrouting) = (
        nat.builtin("PREROUTING"),
        nat.builtin("OUTPUT"),
        nat.builtin("POSTROUTING"),
    );
    let mut every_nat = write_nat_entry_jumps(nat, prerouting, nat_output, postrouting);
    nat.push(mark_masq, |r| {
        r.raw(" -j MARK --set-xmark 0x4000/0x4000");
    });
    every_nat.push(nat.push(postrouting_chain, |r| {
        r.raw(" -m mark ! --mark 0x4000/0x4000").jump("RETURN");
    }));
    nat.push(postrouting_chain, |r| {
        r.raw(" -j MARK --set-xmark 0x4000/0x0");
    });
    nat.push(postrouting_chain, |r| {
        r.comment(format_args!("kubernetes service traffic requiring SNAT"))
            .raw(" -j MASQUERADE --random-fully");
    });

    let base = BaseRecord {
        every_packet: every_packet
            .into_iter()
            .map(|rule| (TableKind::Filter, rule))
            .chain(every_nat.into_iter().map(|rule| (TableKind::Nat, rule)))
            .collect(),
        nat_prerouting: prerouting,
        nat_postrouting: postrouting,
        filter_forward: forward,
    };
    let chains = KubeChains {
        nat_services,
        nat_nodeports,
        filter_services,
        filter_external,
        filter_nodeports: Some(filter_nodeports),
        filter_proxy_firewall: Some(filter_proxy_firewall),
    };
    (base, chains)
}

/// kube-proxy ~1.16 (2019) base chains, with kubelet's KUBE-MARK-DROP.
pub(crate) fn write_legacy_base(filter: &mut Table, nat: &mut Table) -> (BaseRecord, KubeChains) {
    let filter_external = filter.declare("KUBE-EXTERNAL-SERVICES".into());
    let filter_firewall = filter.declare("KUBE-FIREWALL".into());
    let filter_forward_chain = filter.declare("KUBE-FORWARD".into());
    let filter_services = filter.declare("KUBE-SERVICES".into());
    let (input, forward, output) = (
        filter.builtin("INPUT"),
        filter.builtin("FORWARD"),
        filter.builtin("OUTPUT"),
    );
    let new_jump = |filter: &mut Table, from: ChainId, comment: &str, to: &str| {
        filter.push(from, |r| {
            r.raw(" -m conntrack --ctstate NEW")
                .comment(format_args!("{comment}"))
                .jump(to);
        })
    };
    let service_portals = "kubernetes service portals";
    new_jump(filter, input, service_portals, "KUBE-SERVICES");
    new_jump(
        filter,
        input,
        "kubernetes externally-visible service portals",
        "KUBE-EXTERNAL-SERVICES",
    );
    filter.push(input, |r| {
        r.jump("KUBE-FIREWALL");
    });
    let mut every_packet = vec![];
    every_packet.push(filter.push(forward, |r| {
        r.comment(format_args!("kubernetes forwarding rules"))
            .jump("KUBE-FORWARD");
    }));
    every_packet.push(new_jump(filter, forward, service_portals, "KUBE-SERVICES"));
    new_jump(filter, output, service_portals, "KUBE-SERVICES");
    filter.push(output, |r| {
        r.jump("KUBE-FIREWALL");
    });
    filter.push(filter_firewall, |r| {
        r.comment(format_args!(
            "kubernetes firewall for dropping marked packets"
        ))
        .raw(" -m mark --mark 0x8000/0x8000 -j DROP");
    });
    write_forward_chain(filter, filter_forward_chain, true);

    let nat_services = nat.declare("KUBE-SERVICES".into());
    let nat_nodeports = nat.declare("KUBE-NODEPORTS".into());
    let mark_drop = nat.declare(MARK_DROP.into());
    let mark_masq = nat.declare(MARK_MASQ.into());
    let postrouting_chain = nat.declare("KUBE-POSTROUTING".into());
    let (prerouting, nat_output, postrouting) = (
        nat.builtin("PREROUTING"),
        nat.builtin("OUTPUT"),
        nat.builtin("POSTROUTING"),
    );
    let every_nat = write_nat_entry_jumps(nat, prerouting, nat_output, postrouting);
    nat.push(mark_drop, |r| {
        r.raw(" -j MARK --set-xmark 0x8000/0x8000");
    });
    nat.push(mark_masq, |r| {
        r.raw(" -j MARK --set-xmark 0x4000/0x4000");
    });
    nat.push(postrouting_chain, |r| {
        r.comment(format_args!("kubernetes service traffic requiring SNAT"))
            .raw(" -m mark --mark 0x4000/0x4000 -j MASQUERADE");
    });

    let base = BaseRecord {
        every_packet: every_packet
            .into_iter()
            .map(|rule| (TableKind::Filter, rule))
            .chain(every_nat.into_iter().map(|rule| (TableKind::Nat, rule)))
            .collect(),
        nat_prerouting: prerouting,
        nat_postrouting: postrouting,
        filter_forward: forward,
    };
    let chains = KubeChains {
        nat_services,
        nat_nodeports,
        filter_services,
        filter_external,
        filter_nodeports: None,
        filter_proxy_firewall: None,
    };
    (base, chains)
}

/// KUBE-FORWARD; the legacy form has the per-pod-CIDR conntrack rules.
fn write_forward_chain(filter: &mut Table, chain: ChainId, legacy: bool) {
    filter.push(chain, |r| {
        r.raw(" -m conntrack --ctstate INVALID -j DROP");
    });
    filter.push(chain, |r| {
        r.comment(format_args!("kubernetes forwarding rules"))
            .raw(" -m mark --mark 0x4000/0x4000 -j ACCEPT");
    });
    if legacy {
        filter.push(chain, |r| {
            r.src(CLUSTER_CIDR)
                .comment(format_args!(
                    "kubernetes forwarding conntrack pod source rule"
                ))
                .raw(" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT");
        });
        filter.push(chain, |r| {
            r.dst(CLUSTER_CIDR)
                .comment(format_args!(
                    "kubernetes forwarding conntrack pod destination rule"
                ))
                .raw(" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT");
        });
    } else {
        filter.push(chain, |r| {
            r.comment(format_args!("kubernetes forwarding conntrack rule"))
                .raw(" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT");
        });
    }
}

/// PREROUTING/OUTPUT -> KUBE-SERVICES and POSTROUTING -> KUBE-POSTROUTING;
/// returns the jumps every simulated packet takes.
fn write_nat_entry_jumps(
    nat: &mut Table,
    prerouting: ChainId,
    output: ChainId,
    postrouting: ChainId,
) -> Vec<RuleId> {
    let to_services = |nat: &mut Table, from: ChainId| {
        nat.push(from, |r| {
            r.comment(format_args!("kubernetes service portals"))
                .jump("KUBE-SERVICES");
        })
    };
    let from_prerouting = to_services(nat, prerouting);
    to_services(nat, output);
    let from_postrouting = nat.push(postrouting, |r| {
        r.comment(format_args!("kubernetes postrouting rules"))
            .jump("KUBE-POSTROUTING");
    });
    vec![from_prerouting, from_postrouting]
}
