//! `[frontends.NAME.migration]`: a frontend moving from its provider (the
//! old one) to another (`to`, the new one), and how far along it is.

use serde::{Deserialize, Serialize};

/// How a migrating frontend uses its two providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The old provider answers; every write is also applied to the new one
    /// through the outbox.
    DualWrite,
    /// `dual_write`, and a sampled share of reads also runs on the new
    /// provider in the background, its result compared with the old's.
    Shadow,
    /// A stable share of users (`percent`, and the users moved by name) is
    /// served by the new provider, the rest by the old; writes flow through
    /// the outbox to the other side either way; reads are sampled as in
    /// `shadow`, against the other side.
    Cutover,
}

impl Mode {
    /// The name used in the config and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::DualWrite => "dual_write",
            Mode::Shadow => "shadow",
            Mode::Cutover => "cutover",
        }
    }
}

/// The migration of one frontend.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationConfig {
    /// The new provider (a name from `[providers]`); the frontend's
    /// `provider` stays the old one.
    pub to: String,
    /// What imbridge does with the two providers.
    #[serde(default = "default_mode")]
    pub mode: Mode,
    /// In `cutover`: the share of users (0..=100) served by the new provider.
    #[serde(default)]
    pub percent: u8,
    /// In `shadow` and `cutover`: the share of reads (0.0..=1.0) also run on
    /// the other provider and compared.
    #[serde(default)]
    pub shadow_sample: f64,
}

fn default_mode() -> Mode {
    Mode::DualWrite
}

impl MigrationConfig {
    /// Problems with these settings for frontend `frontend` whose old
    /// provider is `from`; `known` tells whether a provider name exists.
    pub fn problems(
        &self,
        frontend: &str,
        from: &str,
        known: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let at = format!("frontend `{frontend}`: [migration]");
        if !known(&self.to) {
            out.push(format!("{at} to: unknown provider `{}`", self.to));
        }
        if self.to == from {
            out.push(format!(
                "{at} to: `{}` is already the frontend's provider; name the new one",
                self.to
            ));
        }
        if self.percent > 100 {
            out.push(format!("{at} percent: {} is not in 0..=100", self.percent));
        }
        if !(0.0..=1.0).contains(&self.shadow_sample) {
            out.push(format!(
                "{at} shadow_sample: {} is not in 0.0..=1.0",
                self.shadow_sample
            ));
        }
        if self.mode != Mode::Cutover && self.percent != 0 {
            out.push(format!(
                "{at} percent: {} only applies in mode `cutover` (mode is `{}`)",
                self.percent,
                self.mode.as_str()
            ));
        }
        out
    }

    /// One line for `imbridge check`.
    pub fn describe(&self, from: &str) -> String {
        let mut s = format!("migrating {from} -> {}: {}", self.to, self.mode.as_str());
        if self.mode == Mode::Cutover {
            s.push_str(&format!(", {}% of users on {}", self.percent, self.to));
        }
        if self.mode != Mode::DualWrite {
            s.push_str(&format!(", shadow sample {}", self.shadow_sample));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MigrationConfig, String> {
        use figment::providers::{Format, Toml};
        figment::Figment::from(Toml::string(text))
            .extract()
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_checks() {
        let c = parse("to = \"new\"").unwrap();
        assert_eq!(c.mode, Mode::DualWrite);
        assert!(c.problems("fe", "old", |_| true).is_empty());
        let c =
            parse("to = \"old\"\nmode = \"shadow\"\npercent = 10\nshadow_sample = 1.5").unwrap();
        let p = c.problems("fe", "old", |n| n == "old").join("\n");
        assert!(p.contains("already the frontend's provider"), "{p}");
        assert!(p.contains("only applies in mode `cutover`"), "{p}");
        assert!(p.contains("shadow_sample: 1.5"), "{p}");
        let p = parse("to = \"x\"")
            .unwrap()
            .problems("fe", "old", |_| false);
        assert!(p[0].contains("unknown provider `x`"), "{p:?}");
        assert!(parse("to = \"x\"\nmode = \"big_bang\"").is_err());
        assert!(parse("to = \"x\"\nprecent = 1").is_err());
    }
}
