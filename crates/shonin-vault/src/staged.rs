//! What a vault call would write, staged for the caller's unit of work, and the loop that commits
//! it: the vault reads, seals and stages without writing; the caller adds its own one-time
//! values and audit entry and commits once.

use crate::VaultError;
use shonin_types::StorageError;
use shonin_types::unit::{Outcome, UnitOfWork};

/// How many times a call is staged when records change under it between its reads and its
/// commit (a concurrent re-wrap or tokenize of the same card).
const STAGE_TRIES: usize = 3;

/// A call's writes and its answer, valid once the unit commits.
#[derive(Debug)]
pub struct Staged<T> {
    pub unit: UnitOfWork,
    pub value: T,
    /// Updates whose lost compare-and-set refuses the call, by index.
    refusals: Vec<(usize, Lost)>,
}

/// A lost compare-and-set that is an answer, not a race.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lost {
    /// Another exchange took the nonce (or it expired).
    Nonce,
    /// The card is gone.
    Card,
    /// The client token has issued all the nonces it may (or expired).
    ClientToken,
}

impl<T> Staged<T> {
    pub(crate) fn new(unit: UnitOfWork, value: T) -> Self {
        Staged {
            unit,
            value,
            refusals: Vec::new(),
        }
    }

    /// Marks update number `index` as one whose loss refuses the call.
    pub(crate) fn refuses_update(&mut self, index: usize, lost: Lost) {
        self.refusals.push((index, lost));
    }
}

/// What a lost compare-and-set of update `update` means: a refusal, or `None` when a record
/// changed between the read and the commit (stage again).
fn lost(refusals: &[(usize, Lost)], update: usize) -> Option<VaultError> {
    let (_, lost) = refusals.iter().find(|(i, _)| *i == update)?;
    Some(match lost {
        Lost::Nonce => VaultError::InvalidNonce,
        Lost::Card => VaultError::NotFound,
        Lost::ClientToken => VaultError::ClientToken(
            "the client token has issued all its nonces or expired; get a new one",
        ),
    })
}

/// Why [`settle`] ended without a commit.
#[derive(Debug)]
pub enum Unsettled<E> {
    /// The vault refused the call, or a record kept changing under it.
    Vault(VaultError),
    /// Claim number `claim` of the committed unit was used before.
    Replayed { claim: usize },
    /// The commit itself failed.
    Commit(E),
}

impl<E> From<VaultError> for Unsettled<E> {
    fn from(e: VaultError) -> Self {
        Unsettled::Vault(e)
    }
}

/// Stages with `stage` and commits with `commit` (which may add the call's own claims and audit
/// entry, and is told the answer the unit is for) until the unit commits or is refused.
///
/// Plain closures returning futures rather than async closures: a future that borrows an async
/// closure's captures is not provably `Send` to axum's handlers (rust-lang/rust#110338).
pub async fn settle<T, E, S, SF, C, CF>(mut stage: S, mut commit: C) -> Result<T, Unsettled<E>>
where
    S: FnMut() -> SF,
    SF: Future<Output = Result<Staged<T>, VaultError>>,
    C: FnMut(UnitOfWork, &T) -> CF,
    CF: Future<Output = Result<Outcome, E>>,
{
    for _ in 0..STAGE_TRIES {
        let Staged {
            unit,
            value,
            refusals,
        } = stage().await?;
        match commit(unit, &value).await.map_err(Unsettled::Commit)? {
            Outcome::Committed { .. } => return Ok(value),
            Outcome::Replayed { claim } => return Err(Unsettled::Replayed { claim }),
            Outcome::Conflict { update } => {
                if let Some(refusal) = lost(&refusals, update) {
                    return Err(refusal.into());
                }
            }
        }
    }
    Err(VaultError::Storage(StorageError::Conflict(
        "the card kept changing while it was stored; try again".into(),
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shonin_types::unit::{Expect, Update};

    /// A unit of two deletions, the first a refusal when lost.
    fn staged() -> Staged<&'static str> {
        let mut unit = UnitOfWork::new();
        unit.update(Update::delete("a", vec![], Expect::One));
        unit.update(Update::delete("b", vec![], Expect::One));
        let mut s = Staged::new(unit, "answer");
        s.refuses_update(0, Lost::Nonce);
        s
    }

    /// Runs `settle` against commit outcomes given in order; returns its result and how many
    /// times it staged.
    fn run(outcomes: Vec<Outcome>) -> (Result<&'static str, Unsettled<()>>, usize) {
        let mut stages = 0;
        let mut outcomes = outcomes.into_iter();
        let result = block_on(settle(
            || {
                stages += 1;
                std::future::ready(Ok(staged()))
            },
            |_, _| std::future::ready(outcomes.next().ok_or(())),
        ));
        (result, stages)
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .map(|rt| rt.block_on(f))
            .unwrap_or_else(|_| unreachable!("a current-thread runtime builds"))
    }

    #[test]
    fn a_lost_refusal_ends_the_call_and_a_race_is_staged_again() {
        let committed = Outcome::Committed { seq: None };
        let (r, n) = run(vec![committed]);
        assert!(matches!(r, Ok("answer")) && n == 1);
        let (r, n) = run(vec![Outcome::Conflict { update: 0 }]);
        assert!(matches!(r, Err(Unsettled::Vault(VaultError::InvalidNonce))) && n == 1);
        let (r, n) = run(vec![Outcome::Conflict { update: 1 }, committed]);
        assert!(matches!(r, Ok("answer")) && n == 2);
        let (r, n) = run(vec![Outcome::Conflict { update: 1 }; 5]);
        assert!(matches!(r, Err(Unsettled::Vault(VaultError::Storage(_)))));
        assert_eq!(n, STAGE_TRIES);
        let (r, _) = run(vec![Outcome::Replayed { claim: 2 }]);
        assert!(matches!(r, Err(Unsettled::Replayed { claim: 2 })));
        let (r, _) = run(vec![]);
        assert!(matches!(r, Err(Unsettled::Commit(()))));
    }
}
