//! `[[clients]]` of `shonin.toml`, applied to the store at startup.

use anyhow::Context as _;
use shonin_audit::{Actor, AuditLog};
use shonin_oauth::client::refusal::explain;
use shonin_oauth::client::{Client, ClientRegistration, ClientStore, validate};
use shonin_types::StorageError;
use time::OffsetDateTime;

/// What [`sync_from_config`] changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
}

/// Applies `[[clients]]` from the configuration at startup: creates the clients the store lacks
/// and updates those whose stored registration differs (keeping `created_at`), each change
/// audit-logged with actor `system`. Clients in the store that the configuration does not name
/// are left alone: they may have been added with `shonin clients add`.
///
/// Several nodes starting at once from one configuration may race; a create that finds the
/// client already there (another node made it) is not an error.
pub async fn sync_from_config<S: ClientStore + ?Sized>(
    store: &S,
    regs: &[ClientRegistration],
    audit: &AuditLog,
    now: OffsetDateTime,
) -> anyhow::Result<SyncReport> {
    let mut report = SyncReport::default();
    for (n, reg) in regs.iter().enumerate() {
        let client = validate(reg.clone(), now).map_err(|e| {
            let r = explain(&e, reg);
            anyhow::anyhow!("configuration key `clients[{n}].{}`: {}", r.field, r.rule)
        })?;
        let id = client.client_id.as_str().to_owned();
        let action = match store.get_client(&client.client_id).await? {
            None => match store.create_client(&client).await {
                Ok(()) => {
                    report.created.push(id.clone());
                    "clients.add"
                }
                Err(StorageError::Conflict(_)) => {
                    report.unchanged.push(id);
                    continue;
                }
                Err(e) => return Err(e.into()),
            },
            Some(stored) if stored.registration() == client.registration() => {
                report.unchanged.push(id);
                continue;
            }
            Some(stored) => {
                let client = Client {
                    created_at: stored.created_at,
                    ..client
                };
                store.update_client(&client).await?;
                report.updated.push(id.clone());
                "clients.update"
            }
        };
        super::record::record(audit, now, Actor::system(), action, &id, Ok(()))
            .await
            .with_context(|| format!("audit entry for {action} {id}"))?;
        tracing::info!(client_id = %id, action, "client from configuration applied");
    }
    Ok(report)
}
