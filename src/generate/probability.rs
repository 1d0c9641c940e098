//! The `--probability` values of a load-balancing chain and the exact traffic
//! shares they produce in the kernel.
//!
//! libxt_statistic stores `lround(P * 2^31)` and the kernel matches when
//! `(random & 0x7fffffff) < stored`, so a written probability `P` really means
//! `round(P * 2^31) / 2^31`. kube-proxy gives endpoint `i` of `n` the written
//! probability `1/(n-i)` and makes the last rule unconditional, so endpoint
//! `i`'s share is `q_i * prod_{j<i} (1 - q_j)`.

use std::fmt::Write;

use super::Defect;

const TWO_POW_31: f64 = 2_147_483_648.0;

/// The probability the kernel actually uses for a written `--probability`.
pub(crate) fn quantize(written: f64) -> f64 {
    (written * TWO_POW_31).round().clamp(0.0, TWO_POW_31) / TWO_POW_31
}

/// How one load-balancing rule is written.
#[derive(Clone, Debug)]
pub(crate) enum Written {
    /// No statistic match: the rule always matches.
    Always,
    /// `1/k` in the style's precision, shared through [`ProbabilityTexts`].
    Reciprocal(usize),
    /// Any other value, already formatted (only used by injected defects).
    Custom(String),
}

/// The written probabilities of one chain's load-balancing rules and the
/// quantised probabilities the kernel derives from them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Spread {
    pub(crate) written: Vec<Written>,
    pub(crate) quantized: Vec<f64>,
}

impl Spread {
    /// Each rule's share of the traffic entering the chain, and the fraction
    /// that falls through all of them.
    pub(crate) fn shares(&self) -> (Vec<f64>, f64) {
        let mut reach = 1.0;
        let shares = self
            .quantized
            .iter()
            .map(|&q| {
                let share = q * reach;
                reach *= 1.0 - q;
                share
            })
            .collect();
        (shares, reach)
    }
}

/// Formats probabilities the way a kube-proxy version does (`%0.10f` since
/// v1.17, `%0.5f` before) or the way iptables-save prints them back from the
/// kernel (`%.11f` of the stored value), and caches the `1/k` texts, as
/// kube-proxy does.
pub(crate) struct ProbabilityTexts {
    decimals: usize,
    as_saved: bool,
    reciprocals: Vec<(String, f64)>,
}

impl ProbabilityTexts {
    /// Texts as kube-proxy writes them, with `decimals` digits after the point.
    pub(crate) fn kube_proxy(decimals: usize) -> Self {
        ProbabilityTexts {
            decimals,
            as_saved: false,
            reciprocals: Vec::new(),
        }
    }

    /// Texts as iptables-save prints them once the kernel holds the rule.
    pub(crate) fn as_saved() -> Self {
        ProbabilityTexts {
            decimals: 11,
            as_saved: true,
            reciprocals: Vec::new(),
        }
    }

    /// The written text of a rule.
    pub(crate) fn text<'a>(&'a self, written: &'a Written) -> Option<&'a str> {
        match written {
            Written::Always => None,
            Written::Reciprocal(k) => Some(&self.reciprocals[*k].0),
            Written::Custom(text) => Some(text),
        }
    }

    fn format(&self, value: f64) -> (String, f64) {
        let mut text = String::with_capacity(self.decimals + 2);
        if self.as_saved {
            let q = quantize(value);
            let _ = write!(text, "{q:.11}");
            return (text, q);
        }
        let _ = write!(text, "{value:.prec$}", prec = self.decimals);
        // The kernel sees the written text, so the truth is computed from it.
        let parsed: f64 = text.parse().expect("a formatted f64 parses");
        (text, quantize(parsed))
    }

    fn reciprocal(&mut self, k: usize) -> (Written, f64) {
        while self.reciprocals.len() <= k {
            let next = self.reciprocals.len();
            let entry = if next == 0 {
                (String::new(), 0.0)
            } else {
                self.format(1.0 / next as f64)
            };
            self.reciprocals.push(entry);
        }
        (Written::Reciprocal(k), self.reciprocals[k].1)
    }

    fn custom(&self, value: f64) -> (Written, f64) {
        let (text, q) = self.format(value.clamp(0.0, 1.0));
        (Written::Custom(text), q)
    }

    /// The rules kube-proxy writes for `n` endpoints, altered by a
    /// `NonUniformSpread` or `ProbabilityLeak` defect if one is given.
    pub(crate) fn spread(&mut self, n: usize, defect: Option<Defect>) -> Spread {
        let mut spread = Spread {
            written: Vec::with_capacity(n),
            quantized: Vec::with_capacity(n),
        };
        let mut reach = 1.0;
        for i in 0..n {
            let last = i + 1 == n;
            let (written, q) = match defect {
                Some(Defect::NonUniformSpread { first_share }) if i == 0 && !last => {
                    self.custom(first_share)
                }
                Some(Defect::ProbabilityLeak { leaked }) if last => {
                    // The last rule should catch everything that reaches it;
                    // letting `leaked` of all traffic through needs
                    // q = 1 - leaked / reach.
                    self.custom(1.0 - leaked / reach)
                }
                _ if last => (Written::Always, 1.0),
                _ => self.reciprocal(n - i),
            };
            reach *= 1.0 - q;
            spread.written.push(written);
            spread.quantized.push(q);
        }
        spread
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values checked against a real kernel in the reference notes.
    #[test]
    fn quantisation_matches_the_kernel() {
        assert_eq!(format!("{:.11}", quantize(0.2)), "0.20000000019");
        assert_eq!(format!("{:.11}", quantize(0.25)), "0.25000000000");
        assert_eq!(format!("{:.11}", quantize(0.3333333333)), "0.33333333349");
        assert_eq!(quantize(1.0), 1.0);
        assert_eq!(quantize(0.0), 0.0);
    }

    #[test]
    fn kube_proxy_spread_is_uniform() {
        let mut texts = ProbabilityTexts::kube_proxy(10);
        let spread = texts.spread(5, None);
        let written: Vec<_> = spread.written.iter().map(|w| texts.text(w)).collect();
        assert_eq!(
            written,
            [
                Some("0.2000000000"),
                Some("0.2500000000"),
                Some("0.3333333333"),
                Some("0.5000000000"),
                None
            ]
        );
        let (shares, fallthrough) = spread.shares();
        assert_eq!(fallthrough, 0.0);
        for share in shares {
            assert!((share - 0.2).abs() < 1e-9);
        }
    }

    #[test]
    fn saved_form_round_trips_through_the_kernel() {
        let mut texts = ProbabilityTexts::as_saved();
        let spread = texts.spread(5, None);
        let written: Vec<_> = spread.written.iter().map(|w| texts.text(w)).collect();
        assert_eq!(
            written,
            [
                Some("0.20000000019"),
                Some("0.25000000000"),
                Some("0.33333333349"),
                Some("0.50000000000"),
                None
            ]
        );
        // Printing 11 decimals of a multiple of 2^-31 and quantising again
        // gives the same value back.
        for (written, &q) in spread.written.iter().zip(&spread.quantized) {
            if let Some(text) = texts.text(written) {
                assert_eq!(quantize(text.parse().unwrap()), q);
            }
        }
    }

    #[test]
    fn leak_and_skew_are_exact() {
        let mut texts = ProbabilityTexts::kube_proxy(10);
        let leak = texts.spread(4, Some(Defect::ProbabilityLeak { leaked: 0.05 }));
        let (_, fallthrough) = leak.shares();
        assert!((fallthrough - 0.05).abs() < 1e-9, "{fallthrough}");
        let skew = texts.spread(4, Some(Defect::NonUniformSpread { first_share: 0.7 }));
        let (shares, fallthrough) = skew.shares();
        assert_eq!(fallthrough, 0.0);
        assert!((shares[0] - 0.7).abs() < 1e-9);
        for share in &shares[1..] {
            assert!((share - 0.1).abs() < 1e-9);
        }
    }
}
