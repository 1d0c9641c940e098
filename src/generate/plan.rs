//! Decides what the cluster looks like: services, their ports, endpoints,
//! node ports, external and load-balancer IPs. The plan does not depend on the
//! output style, so one seed describes the same cluster in every style.

use std::net::Ipv4Addr;

use fastrand::Rng;

use super::table::Cidr;
use super::{GenConfig, Protocol};

/// One endpoint of a service port.
#[derive(Clone, Debug)]
pub(crate) struct EndpointPlan {
    pub(crate) ip: Ipv4Addr,
    pub(crate) port: u16,
    /// Whether the pod runs on the node whose dump is generated.
    pub(crate) local: bool,
}

/// A load balancer in front of a service, restricted to source ranges.
#[derive(Clone, Debug)]
pub(crate) struct LoadBalancerPlan {
    pub(crate) ip: Ipv4Addr,
    pub(crate) source_ranges: Vec<Cidr>,
}

/// One service port: the unit kube-proxy writes rules for.
#[derive(Clone, Debug)]
pub(crate) struct PortPlan {
    pub(crate) namespace: String,
    pub(crate) service: String,
    pub(crate) port_name: String,
    /// `ns/svc:port`, or `ns/svc` for an unnamed port.
    pub(crate) name: String,
    pub(crate) protocol: Protocol,
    pub(crate) cluster_ip: Ipv4Addr,
    pub(crate) port: u16,
    pub(crate) target_port: u16,
    pub(crate) endpoints: Vec<EndpointPlan>,
    pub(crate) nodeport: Option<u16>,
    pub(crate) health_check_nodeport: Option<u16>,
    pub(crate) external_ips: Vec<Ipv4Addr>,
    pub(crate) load_balancer: Option<LoadBalancerPlan>,
    pub(crate) affinity: bool,
    /// externalTrafficPolicy: Local (only for NodePort and LoadBalancer).
    pub(crate) local_policy: bool,
    /// Whether this is the service's first port; per-service rules (the
    /// health-check port) are written with it.
    pub(crate) first_of_service: bool,
}

impl PortPlan {
    /// Whether traffic can reach the service other than through its cluster IP.
    pub(crate) fn externally_accessible(&self) -> bool {
        self.nodeport.is_some() || !self.external_ips.is_empty() || self.load_balancer.is_some()
    }
}

/// Hands out unique addresses and node ports.
pub(crate) struct Allocator {
    next_cluster_ip: u32,
    next_pod_ip: u32,
    next_external_ip: u32,
    next_lb_ip: u32,
    free_nodeports: Vec<u16>,
}

/// Service cluster IPs come from 172.16.0.0/12.
const SERVICE_RANGE: (u32, u32) = (0xac10_0000, 0xac20_0000);
/// Pod IPs come from the cluster CIDR 10.0.0.0/8 (above 10.1.0.0).
const POD_RANGE: (u32, u32) = (0x0a01_0000, 0x0b00_0000);
/// External IPs come from 100.64.0.0/10.
const EXTERNAL_RANGE: (u32, u32) = (0x6440_0000, 0x6480_0000);
/// Load-balancer IPs come from 198.18.0.0/15.
const LB_RANGE: (u32, u32) = (0xc612_0000, 0xc614_0000);

impl Allocator {
    fn new(rng: &mut Rng) -> Self {
        let mut free_nodeports: Vec<u16> = (30000..=32767).collect();
        rng.shuffle(&mut free_nodeports);
        Allocator {
            // .1 and .10 are reserved for default/kubernetes and kube-dns.
            next_cluster_ip: SERVICE_RANGE.0 + 10,
            next_pod_ip: POD_RANGE.0 + 1,
            next_external_ip: EXTERNAL_RANGE.0,
            next_lb_ip: LB_RANGE.0,
            free_nodeports,
        }
    }

    /// Advances `next` by a random gap, skipping host parts .0 and .255.
    fn take(
        next: &mut u32,
        range: (u32, u32),
        max_gap: u32,
        what: &str,
        rng: &mut Rng,
    ) -> Ipv4Addr {
        loop {
            *next += rng.u32(1..=max_gap);
            assert!(*next < range.1, "generator ran out of {what} addresses");
            if !matches!(*next & 0xff, 0 | 255) {
                return Ipv4Addr::from(*next);
            }
        }
    }

    fn cluster_ip(&mut self, rng: &mut Rng) -> Ipv4Addr {
        Self::take(&mut self.next_cluster_ip, SERVICE_RANGE, 4, "service", rng)
    }

    /// A fresh pod IP.
    pub(crate) fn pod_ip(&mut self, rng: &mut Rng) -> Ipv4Addr {
        Self::take(&mut self.next_pod_ip, POD_RANGE, 3, "pod", rng)
    }

    fn external_ip(&mut self, rng: &mut Rng) -> Ipv4Addr {
        Self::take(
            &mut self.next_external_ip,
            EXTERNAL_RANGE,
            2,
            "external",
            rng,
        )
    }

    fn lb_ip(&mut self, rng: &mut Rng) -> Ipv4Addr {
        Self::take(&mut self.next_lb_ip, LB_RANGE, 2, "load-balancer", rng)
    }

    /// A free node port, or None once the 30000-32767 range is used up.
    fn nodeport(&mut self) -> Option<u16> {
        self.free_nodeports.pop()
    }
}

/// A port a service may expose: (name, port, target port).
type PortChoice = (&'static str, u16, u16);

const TCP_PORTS: [PortChoice; 8] = [
    ("http", 80, 8080),
    ("https", 443, 8443),
    ("grpc", 50051, 50051),
    ("metrics", 9090, 9090),
    ("admin", 8081, 8081),
    ("web", 3000, 3000),
    ("redis", 6379, 6379),
    ("postgres", 5432, 5432),
];

const UDP_PORTS: [PortChoice; 4] = [
    ("dns", 53, 53),
    ("statsd", 8125, 8125),
    ("syslog", 514, 514),
    ("ntp", 123, 123),
];

const NAMESPACE_WORDS: [&str; 12] = [
    "payments",
    "checkout",
    "catalog",
    "search",
    "billing",
    "identity",
    "monitoring",
    "logging",
    "ingress",
    "data",
    "ml",
    "web",
];

const SERVICE_WORDS: [&str; 16] = [
    "api", "frontend", "backend", "worker", "cache", "db", "queue", "auth", "gateway", "store",
    "index", "render", "notify", "report", "proxy", "sync",
];

/// The planned service ports, in the order kube-proxy will write them, and
/// the allocator (defect injection may still need fresh addresses).
pub(crate) fn plan(config: &GenConfig, rng: &mut Rng) -> (Vec<PortPlan>, Allocator) {
    let mut alloc = Allocator::new(rng);
    let mut ports = Vec::with_capacity(config.services + config.services / 8);
    // About sqrt(n) namespaces, as clusters tend to have.
    let namespace_count = ((config.services as f64).sqrt() as usize).max(1);
    for index in 0..config.services {
        plan_service(config, index, namespace_count, &mut alloc, rng, &mut ports);
    }
    (ports, alloc)
}

fn namespace_name(k: usize) -> String {
    let word = NAMESPACE_WORDS[k % NAMESPACE_WORDS.len()];
    match k / NAMESPACE_WORDS.len() {
        0 => word.to_owned(),
        generation => format!("{word}-{generation}"),
    }
}

fn plan_service(
    config: &GenConfig,
    index: usize,
    namespace_count: usize,
    alloc: &mut Allocator,
    rng: &mut Rng,
    out: &mut Vec<PortPlan>,
) {
    // Every cluster has the API server service and cluster DNS first.
    let (namespace, service, cluster_ip, ports, special) = match index {
        0 => (
            "default".to_owned(),
            "kubernetes".to_owned(),
            Ipv4Addr::from(SERVICE_RANGE.0 + 1),
            vec![(Protocol::Tcp, ("https", 443, 6443))],
            true,
        ),
        1 => (
            "kube-system".to_owned(),
            "kube-dns".to_owned(),
            Ipv4Addr::from(SERVICE_RANGE.0 + 10),
            vec![
                (Protocol::Udp, ("dns", 53, 53)),
                (Protocol::Tcp, ("dns-tcp", 53, 53)),
                (Protocol::Tcp, ("metrics", 9153, 9153)),
            ],
            true,
        ),
        _ => {
            let namespace = namespace_name(rng.usize(..namespace_count));
            let service = format!(
                "{}-{index}",
                SERVICE_WORDS[rng.usize(..SERVICE_WORDS.len())]
            );
            let port_count = if rng.f64() < config.multi_port_fraction {
                rng.usize(2..=3)
            } else {
                1
            };
            let ports = choose_ports(config, port_count, rng);
            (namespace, service, alloc.cluster_ip(rng), ports, false)
        }
    };

    let endpoint_count = if rng.f64() < config.zero_endpoint_fraction {
        0
    } else {
        rng.usize(config.endpoints.clone())
    };

    let (nodeport_wanted, load_balancer) = if special {
        (false, None)
    } else {
        let kind = rng.f64();
        if kind < config.load_balancer_fraction {
            let ranges = (0..rng.usize(1..=2))
                .map(|_| {
                    let prefix = [16u8, 24, 25, 28][rng.usize(..4)];
                    let mask = u32::MAX << (32 - prefix);
                    let addr = (0xcb00_0000 | rng.u32(..0x0100_0000)) & mask;
                    Cidr {
                        addr: Ipv4Addr::from(addr),
                        prefix,
                    }
                })
                .collect();
            (true, Some(ranges))
        } else {
            (
                kind < config.load_balancer_fraction + config.nodeport_fraction,
                None,
            )
        }
    };
    let external_ip_count = if !special && rng.f64() < config.external_ip_fraction {
        rng.usize(1..=2)
    } else {
        0
    };
    let local_policy = nodeport_wanted && rng.f64() < config.local_policy_fraction;
    let affinity = !special && rng.f64() < config.affinity_fraction;

    // Pods are shared by all ports of the service, as with a real selector.
    let pods: Vec<(Ipv4Addr, bool)> = (0..endpoint_count)
        .map(|i| {
            let ip = if index == 0 {
                // API servers live on the node network.
                Ipv4Addr::new(192, 168, 0, 10 + (i % 200) as u8)
            } else {
                alloc.pod_ip(rng)
            };
            // One in three pods of a local-policy service runs on this node.
            let local = local_policy && rng.u32(..3) == 0;
            (ip, local)
        })
        .collect();
    let external_ips: Vec<Ipv4Addr> = (0..external_ip_count)
        .map(|_| alloc.external_ip(rng))
        .collect();
    let load_balancer = load_balancer.map(|source_ranges| LoadBalancerPlan {
        ip: alloc.lb_ip(rng),
        source_ranges,
    });
    let health_check_nodeport = if local_policy && load_balancer.is_some() {
        alloc.nodeport()
    } else {
        None
    };

    let unnamed = ports.len() == 1 && !special && rng.f64() < config.unnamed_port_fraction;
    for (position, (protocol, (port_name, port, target_port))) in ports.into_iter().enumerate() {
        let port_name = if unnamed { "" } else { port_name };
        let name = if port_name.is_empty() {
            format!("{namespace}/{service}")
        } else {
            format!("{namespace}/{service}:{port_name}")
        };
        let endpoints = pods
            .iter()
            .map(|&(ip, local)| EndpointPlan {
                ip,
                port: target_port,
                local,
            })
            .collect();
        out.push(PortPlan {
            namespace: namespace.clone(),
            service: service.clone(),
            port_name: port_name.to_owned(),
            name,
            protocol,
            cluster_ip,
            port,
            target_port,
            endpoints,
            nodeport: if nodeport_wanted {
                alloc.nodeport()
            } else {
                None
            },
            health_check_nodeport,
            external_ips: external_ips.clone(),
            load_balancer: load_balancer.clone(),
            affinity,
            local_policy,
            first_of_service: position == 0,
        });
    }
}

/// `count` ports with distinct names and port numbers.
fn choose_ports(config: &GenConfig, count: usize, rng: &mut Rng) -> Vec<(Protocol, PortChoice)> {
    let mut tcp: Vec<PortChoice> = TCP_PORTS.to_vec();
    let mut udp: Vec<PortChoice> = UDP_PORTS.to_vec();
    rng.shuffle(&mut tcp);
    rng.shuffle(&mut udp);
    (0..count)
        .map(|_| {
            if rng.f64() < config.udp_fraction
                && let Some(choice) = udp.pop()
            {
                return (Protocol::Udp, choice);
            }
            (
                Protocol::Tcp,
                tcp.pop().expect("at most 3 ports per service"),
            )
        })
        .collect()
}

/// Adds fresh endpoints to `port` until it has `at_least`, for defects that
/// need a service with endpoints.
pub(crate) fn ensure_endpoints(
    port: &mut PortPlan,
    at_least: usize,
    alloc: &mut Allocator,
    rng: &mut Rng,
) {
    while port.endpoints.len() < at_least {
        port.endpoints.push(EndpointPlan {
            ip: alloc.pod_ip(rng),
            port: port.target_port,
            local: false,
        });
    }
}
