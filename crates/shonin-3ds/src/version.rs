//! `messageVersion`: the protocol versions Shonin reads.

use std::fmt;
use std::str::FromStr;

/// A protocol version of EMV 3-D Secure that Shonin can parse and check.
///
/// 2.1.0 is sunset by EMVCo, but the schemes' compliance fixtures still carry it; which versions a
/// component *accepts* is configuration ([`Versions`]), and the others answer Erro 102.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MessageVersion {
    V2_1_0,
    V2_2_0,
    V2_3_1,
}

impl MessageVersion {
    pub const ALL: [MessageVersion; 3] = [Self::V2_1_0, Self::V2_2_0, Self::V2_3_1];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2_1_0 => "2.1.0",
            Self::V2_2_0 => "2.2.0",
            Self::V2_3_1 => "2.3.1",
        }
    }
}

impl FromStr for MessageVersion {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|v| v.as_str() == s).ok_or(())
    }
}

impl fmt::Display for MessageVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The set of versions a component accepts (configuration). A message in any other version —
/// one Shonin knows but does not accept, or one it does not know — answers Erro 102.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions(u8);

impl Versions {
    /// Every version Shonin can check.
    pub const ALL: Versions = Versions(0b111);

    pub fn only(versions: &[MessageVersion]) -> Self {
        Versions(versions.iter().fold(0, |bits, v| bits | Self::bit(*v)))
    }

    pub fn accepts(self, version: MessageVersion) -> bool {
        self.0 & Self::bit(version) != 0
    }

    fn bit(version: MessageVersion) -> u8 {
        match version {
            MessageVersion::V2_1_0 => 1,
            MessageVersion::V2_2_0 => 2,
            MessageVersion::V2_3_1 => 4,
        }
    }
}

impl Default for Versions {
    fn default() -> Self {
        Self::ALL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_exactly() {
        assert_eq!("2.2.0".parse(), Ok(MessageVersion::V2_2_0));
        assert!("2.2".parse::<MessageVersion>().is_err());
        assert!("2.3.1.1".parse::<MessageVersion>().is_err());
        assert!(" 2.1.0".parse::<MessageVersion>().is_err());
    }

    #[test]
    fn a_version_set_accepts_only_its_members() {
        let set = Versions::only(&[MessageVersion::V2_2_0, MessageVersion::V2_3_1]);
        assert!(!set.accepts(MessageVersion::V2_1_0));
        assert!(set.accepts(MessageVersion::V2_2_0));
        assert!(Versions::ALL.accepts(MessageVersion::V2_1_0));
    }
}
