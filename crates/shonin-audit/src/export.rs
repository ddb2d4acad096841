//! Export for a SIEM: one JSON object per line, in chain order.

use crate::{AuditError, AuditStore};
use std::io::Write;

/// Entries read per store call.
const PAGE: u32 = 1000;

/// Writes every entry with `seq >= from_seq` to `out` as JSON Lines (the [`crate::SealedEntry`]
/// serde form: `seq`, `time` (RFC 3339), `actor {kind, id}`, `action`, `target`, `outcome`,
/// `reason`, `source_ip`, `request_id`, `prev_hash`, `hash`) and returns how many were written.
///
/// The entries are exported as stored; run [`crate::verify`] to know whether they hold. `out`
/// is written synchronously: hand in a buffered writer, and a file or pipe rather than a socket
/// when called on a busy runtime.
pub async fn export(
    store: &dyn AuditStore,
    from_seq: u64,
    out: &mut (impl Write + Send),
) -> Result<u64, AuditError> {
    let mut from = from_seq;
    let mut written = 0u64;
    loop {
        let page = store.entries(from, PAGE).await?;
        let Some(last) = page.last() else { break };
        if last.seq < from {
            return Err(AuditError::StoreContract(
                "entries returned a seq below the one asked for",
            ));
        }
        for entry in &page {
            serde_json::to_writer(&mut *out, entry)?;
            out.write_all(b"\n")?;
            written += 1;
        }
        match last.seq.checked_add(1) {
            Some(next) => from = next,
            None => break,
        }
    }
    out.flush()?;
    Ok(written)
}
