//! `messageType`: the nine messages of the protocol and who receives each.

use std::fmt;
use std::str::FromStr;

use crate::ErrorComponent;

/// The value of `messageType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    AReq,
    ARes,
    CReq,
    CRes,
    RReq,
    RRes,
    PReq,
    PRes,
    Erro,
}

impl MessageType {
    pub const ALL: [MessageType; 9] = [
        Self::AReq,
        Self::ARes,
        Self::CReq,
        Self::CRes,
        Self::RReq,
        Self::RRes,
        Self::PReq,
        Self::PRes,
        Self::Erro,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AReq => "AReq",
            Self::ARes => "ARes",
            Self::CReq => "CReq",
            Self::CRes => "CRes",
            Self::RReq => "RReq",
            Self::RRes => "RRes",
            Self::PReq => "PReq",
            Self::PRes => "PRes",
            Self::Erro => "Erro",
        }
    }

    /// The component that receives this message in the browser flow, and so names itself in
    /// `errorComponent` when it answers with an Erro. The DS relays AReq and RReq, but the
    /// component that checks them last (and whose Erro the sender sees) is named here. An Erro
    /// is answered by no one (an Erro is never sent in reply to an Erro); `S` is returned for it.
    pub fn receiver(self) -> ErrorComponent {
        match self {
            Self::AReq | Self::CReq | Self::RRes => ErrorComponent::Acs,
            Self::PReq => ErrorComponent::DirectoryServer,
            Self::ARes | Self::CRes | Self::RReq | Self::PRes | Self::Erro => {
                ErrorComponent::ThreeDsServer
            }
        }
    }
}

impl FromStr for MessageType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|t| t.as_str() == s).ok_or(())
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
