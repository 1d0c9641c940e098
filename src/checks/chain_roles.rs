//! What iptlint knows about the chains that kube-proxy, kubelet and Docker
//! write, so that the graph checks stay quiet about the shapes these tools
//! produce on purpose (a canary chain nothing jumps to, a hook chain that is
//! empty until a service needs it).

/// Prefixes of the chains kube-proxy names after a hash of the service port
/// (or endpoint): `KUBE-SVC-` followed by 16 base32 characters.
const HASHED_PREFIXES: &[&str] = &[
    "KUBE-SVC-",
    "KUBE-SVL-",
    "KUBE-SEP-",
    "KUBE-EXT-",
    "KUBE-FW-",
    "KUBE-XLB-",
];

/// The `KUBE-SVC-` style prefix of a kube-proxy per-service or per-endpoint
/// chain, when `name` is one.
pub fn hashed_prefix(name: &str) -> Option<&'static str> {
    HASHED_PREFIXES.iter().copied().find(|prefix| {
        name.strip_prefix(prefix).is_some_and(|hash| {
            hash.len() == 16
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        })
    })
}

/// Chains created on purpose without anything jumping to them: kube-proxy
/// and kubelet write canary chains to notice when someone flushes the
/// tables; kube-proxy before v1.25 kept `KUBE-MARK-DROP` in nat for kubelet's
/// filter rules to test the mark it sets; ufw creates its whole set of
/// helper chains (`ufw-user-limit`, `ufw-skip-to-policy-*`, ...) whether
/// rules use them or not; Shorewall's `shorewall` chain only marks that it
/// has started.
pub fn is_unreferenced_by_design(name: &str) -> bool {
    matches!(
        name,
        "KUBE-PROXY-CANARY" | "KUBE-KUBELET-CANARY" | "KUBE-MARK-DROP" | "shorewall"
    ) || name.starts_with("ufw-")
        || name.starts_with("ufw6-")
}

/// Hook chains that firewall managers create up front and fill only when
/// something needs them, so a jump to them while they are empty is the normal
/// state of a host: kube-proxy's and kubelet's fixed-name chains
/// (`KUBE-NODEPORTS` without node ports), Docker's (`DOCKER` without
/// published ports), firewalld's (`INPUT_direct`, `PRE_public_log`, ...),
/// ufw's, Shorewall's traffic-control hooks (`tcpre`, ...) and OpenWrt's
/// user hooks (`input_rule`, ...).
pub fn is_placeholder(name: &str) -> bool {
    const FIREWALLD_ZONE_PREFIXES: &[&str] =
        &["PRE_", "POST_", "IN_", "FWDI_", "FWDO_", "FWD_", "OUT_"];
    const FIREWALLD_ZONE_SUFFIXES: &[&str] = &["_log", "_deny", "_allow", "_pre", "_post"];
    (name.starts_with("KUBE-") && hashed_prefix(name).is_none())
        || matches!(
            name,
            "DOCKER" | "DOCKER-USER" | "DOCKER-INGRESS" | "DOCKER-ISOLATION"
        )
        || name.starts_with("DOCKER-ISOLATION-STAGE-")
        || name.ends_with("_direct")
        || name.ends_with("_ZONES")
        || name.ends_with("_ZONES_SOURCE")
        || (FIREWALLD_ZONE_PREFIXES.iter().any(|p| name.starts_with(p))
            && FIREWALLD_ZONE_SUFFIXES.iter().any(|s| name.ends_with(s)))
        || name.starts_with("ufw-")
        || name.starts_with("ufw6-")
        || matches!(name, "tcpre" | "tcin" | "tcout" | "tcfor" | "tcpost")
        || name.ends_with("_rule")
}

/// Where a chain sits on kube-proxy's path from the hooks to the endpoints
/// (`KUBE-SERVICES` 0 ... `KUBE-SEP-*` 3); other chains rank after them. Used
/// to say where a loop among unreachable chains is entered.
pub fn kube_depth(name: &str) -> u8 {
    match hashed_prefix(name) {
        Some("KUBE-EXT-" | "KUBE-FW-" | "KUBE-XLB-") => 1,
        Some("KUBE-SVC-" | "KUBE-SVL-") => 2,
        Some(_) => 3,
        None if name == "KUBE-SERVICES" || name == "KUBE-NODEPORTS" => 0,
        None => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_kube_proxy_chain_names() {
        assert_eq!(
            hashed_prefix("KUBE-SEP-C6EBXVWJJZMIWKLZ"),
            Some("KUBE-SEP-")
        );
        assert_eq!(hashed_prefix("KUBE-FW-NUKIZ6OKUXPJNT4C"), Some("KUBE-FW-"));
        assert_eq!(hashed_prefix("KUBE-SEP-short"), None);
        assert_eq!(hashed_prefix("KUBE-SEP-c6ebxvwjjzmiwklz"), None);
        assert!(is_placeholder("KUBE-NODEPORTS"));
        assert!(!is_placeholder("KUBE-SVC-4SW47YFZTEDKD3PK"));
        assert!(!is_placeholder("MY-CHAIN"));
        assert!(is_placeholder("FWDI_public_allow"));
        assert!(!is_placeholder("FWDI_public"));
        assert!(is_unreferenced_by_design("ufw-user-limit"));
        assert!(!is_unreferenced_by_design("KUBE-SEP-C6EBXVWJJZMIWKLZ"));
        assert!(kube_depth("KUBE-SVC-4SW47YFZTEDKD3PK") < kube_depth("KUBE-SEP-C6EBXVWJJZMIWKLZ"));
    }
}
