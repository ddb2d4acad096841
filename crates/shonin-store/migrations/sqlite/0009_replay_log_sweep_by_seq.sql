-- The replay log is swept by ranges of `seq` (src/replay.rs, `sweep_replay_log`), so the index
-- on `expires_at` is no longer read. It cost a few pages in every commit of the hot path: claims
-- of different lifetimes (client assertions, DPoP proofs) interleave in it, so each batch of
-- claims dirtied two or three of its leaves.
DROP INDEX replay_log_expires_at;
