//! Read-only routes: accounts, objects, blobs, nodes, committee, system, events, blocks.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use floe_common::{BlobId, NodeId, ObjectId};
use serde::Deserialize;
use tokio::time::Instant;

use super::handlers::{parse, query, wait_for_commit};
use super::types::{
    AccountResponse, BlobStatus, CommitteeMemberInfo, CommitteeResponse, CommitteeRole,
    EventsResponse, HealthResponse, MAX_ACCOUNT_OBJECTS, NodeInfo, NodesResponse, ObjectResponse,
    ProposalsResponse, SystemInfo,
};
use super::{ApiError, AppState, DEFAULT_EVENT_LIMIT, MAX_EVENT_LIMIT, MAX_WAIT, blocking};
use crate::cert::ValidatorSet;
use crate::genesis::Genesis;
use crate::state::{
    CommitteeState, EpochState, Object, Proposal, State as LedgerState, StorageNode,
};
use crate::store::EventCursor;
use crate::tx::Address;

fn object_response(object_id: ObjectId, object: &Object) -> ObjectResponse {
    ObjectResponse {
        object_id,
        type_name: object.type_name().to_owned(),
        object: object.clone(),
    }
}

/// `GET /v1/accounts/{address}` query: one page of the owned objects.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AccountQuery {
    /// Objects after this id.
    after: Option<String>,
    /// Page size (at most [`MAX_ACCOUNT_OBJECTS`]).
    limit: Option<usize>,
}

/// `GET /v1/accounts/{address}`: balance, nonce and one page of owned objects, read from the
/// owner index off the async workers.
pub(super) async fn account(
    State(st): State<AppState>,
    Path(address): Path<String>,
    q: Result<Query<AccountQuery>, QueryRejection>,
) -> Result<Json<AccountResponse>, ApiError> {
    let address: Address = parse("address", &address)?;
    let q = query(q)?;
    let after: Option<ObjectId> = q
        .after
        .as_deref()
        .filter(|a| !a.is_empty())
        .map(|a| parse("object_id", a))
        .transpose()?;
    let limit = q
        .limit
        .unwrap_or(MAX_ACCOUNT_OBJECTS)
        .clamp(1, MAX_ACCOUNT_OBJECTS);
    blocking(&st, move |ledger| {
        ledger.read(|s| {
            let account = s.account(&address).copied().unwrap_or_default();
            // One more than the page says whether another follows.
            let mut page = s.objects_owned_page(&address, after, limit + 1);
            let more = page.len() > limit;
            page.truncate(limit);
            AccountResponse {
                address,
                balance: account.balance,
                nonce: account.nonce,
                next_cursor: page.last().map(|(id, _)| *id).filter(|_| more),
                objects: page
                    .into_iter()
                    .map(|(id, o)| object_response(id, o))
                    .collect(),
            }
        })
    })
    .await
    .map(Json)
}

/// `GET /v1/objects/{object_id}`.
pub(super) async fn object(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ObjectResponse>, ApiError> {
    let id: ObjectId = parse("object_id", &id)?;
    st.ledger
        .read(|s| s.object(&id).map(|o| object_response(id, o)))
        .map(Json)
        .ok_or_else(|| ApiError::not_found("unknown_object", format!("no object {id}")))
}

/// `GET /v1/blobs/{blob_id}`.
pub(super) async fn blob(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<BlobStatus>, ApiError> {
    let id: BlobId = parse("blob_id", &id)?;
    st.ledger
        .read(|s| {
            s.blob_status(&id)
                .map(|info| BlobStatus::new(id, info.clone(), s.blob_evidence(&id)))
        })
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found("unknown_blob", format!("blob {id} was never registered"))
        })
}

fn node_info(s: &LedgerState, node: &StorageNode) -> NodeInfo {
    NodeInfo {
        node: node.clone(),
        shards: s.shards_of(&node.node_id).to_vec(),
    }
}

/// `GET /v1/nodes`.
pub(super) async fn nodes(State(st): State<AppState>) -> Json<NodesResponse> {
    Json(st.ledger.read(|s| NodesResponse {
        nodes: s.nodes().map(|n| node_info(s, n)).collect(),
    }))
}

/// `GET /v1/nodes/{node_id}`.
pub(super) async fn node(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<NodeInfo>, ApiError> {
    let id: NodeId = parse("node_id", &id)?;
    st.ledger
        .read(|s| s.node(&id).map(|n| node_info(s, n)))
        .map(Json)
        .ok_or_else(|| ApiError::not_found("unknown_node", format!("no storage node {id}")))
}

fn committee_response(
    s: &LedgerState,
    cs: &CommitteeState,
    role: CommitteeRole,
) -> CommitteeResponse {
    let c = &cs.committee;
    CommitteeResponse {
        epoch: c.epoch(),
        role,
        n_shards: c.n_shards(),
        members: c
            .members()
            .iter()
            .map(|m| {
                let node = s.node(&m.node_id);
                CommitteeMemberInfo {
                    node_id: m.node_id,
                    name: node.map(|n| n.name.clone()).unwrap_or_default(),
                    weight: m.weight,
                    shards: cs.shards.get(&m.node_id).cloned().unwrap_or_default(),
                    public_key: m.public_key,
                    network_address: node.map(|n| n.network_address.clone()).unwrap_or_default(),
                    http_address: node.map(|n| n.http_address.clone()).unwrap_or_default(),
                    stake: node.map_or(floe_common::Frost::ZERO, |n| n.total_stake),
                    commission_bps: node.map_or(0, |n| n.commission_bps),
                }
            })
            .collect(),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct CommitteeQuery {
    epoch: Option<u32>,
}

/// `GET /v1/committee[?epoch=E]`: the current committee, or the current, previous or next
/// committee whose epoch is `E`.
pub(super) async fn committee(
    State(st): State<AppState>,
    q: Result<Query<CommitteeQuery>, QueryRejection>,
) -> Result<Json<CommitteeResponse>, ApiError> {
    let q = query(q)?;
    st.ledger
        .read(|s| {
            let current = (Some(s.committee_state()), CommitteeRole::Current);
            let Some(e) = q.epoch else {
                return Some(committee_response(
                    s,
                    s.committee_state(),
                    CommitteeRole::Current,
                ));
            };
            [
                current,
                (s.previous_committee(), CommitteeRole::Previous),
                (s.next_committee(), CommitteeRole::Next),
            ]
            .into_iter()
            .find_map(|(c, role)| {
                c.filter(|c| c.committee.epoch().0 == e)
                    .map(|c| committee_response(s, c, role))
            })
        })
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(
                "unknown_committee",
                "no current, previous or next committee for that epoch",
            )
        })
}

/// `GET /v1/proposals`.
pub(super) async fn proposals(State(st): State<AppState>) -> Json<ProposalsResponse> {
    Json(st.ledger.read(|s| ProposalsResponse {
        proposals: s.proposals().values().cloned().collect(),
    }))
}

/// `GET /v1/proposals/{id}`.
pub(super) async fn proposal(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Proposal>, ApiError> {
    let id: u64 = parse("proposal id", &id)?;
    st.ledger
        .read(|s| s.proposal(id).cloned())
        .map(Json)
        .ok_or_else(|| ApiError::not_found("unknown_proposal", format!("no proposal {id}")))
}

/// `GET /v1/system`.
pub(super) async fn system(State(st): State<AppState>) -> Json<SystemInfo> {
    let tip = st.ledger.tip();
    Json(st.ledger.read(|s| {
        let sys = s.system();
        SystemInfo {
            chain_id: sys.chain_id.clone(),
            epoch: sys.epoch,
            n_shards: sys.n_shards,
            storage_price: sys.storage_price,
            write_price: sys.write_price,
            min_fee: sys.params.min_fee,
            max_epochs_ahead: sys.params.max_epochs_ahead,
            epoch_duration_ms: sys.epoch_duration_ms,
            next_epoch_duration_ms: sys.params.epoch_duration_ms,
            genesis_time_ms: sys.genesis_time_ms,
            epoch_state: sys.epoch_state.name().to_owned(),
            sync_weight: match &sys.epoch_state {
                EpochState::Sync { weight, .. } => Some(*weight),
                _ => None,
            },
            previous_epoch: match &sys.epoch_state {
                EpochState::Sync { .. } => s.previous_committee().map(|c| c.committee.epoch()),
                _ => None,
            },
            epoch_start_ms: sys.epoch_start_ms,
            mid_epoch_ms: sys.mid_epoch_ms(),
            next_epoch_at_ms: sys.next_epoch_at_ms(),
            capacity: sys.capacity,
            capacity_used: sys.used_capacity(sys.epoch),
            active_set_size: sys.params.active_set_size,
            max_shards_per_node: sys.params.max_shards_per_node,
            escrow: sys.escrow_total(),
            total_staked: sys.total_staked,
            total_burned: sys.total_burned,
            faucet: sys.faucet.clone(),
            total_supply: sys.total_supply,
            tip_height: tip.height,
            tip_hash: tip.block_hash,
            tip_timestamp_ms: tip.timestamp_ms,
            app_hash: tip.app_hash,
        }
    }))
}

#[derive(Debug, Deserialize)]
pub(super) struct EventsQuery {
    after: Option<String>,
    limit: Option<usize>,
    wait_ms: Option<u64>,
}

/// `GET /v1/events`.
pub(super) async fn events(
    State(st): State<AppState>,
    q: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Json<EventsResponse>, ApiError> {
    let q = query(q)?;
    let after: Option<EventCursor> = q
        .after
        .as_deref()
        .filter(|a| !a.is_empty())
        .map(|a| parse("cursor", a))
        .transpose()?;
    let from = match after {
        None => EventCursor {
            height: 0,
            index: 0,
        },
        Some(c) if c.index == u32::MAX => EventCursor {
            height: c.height.saturating_add(1),
            index: 0,
        },
        Some(c) => c.next(),
    };
    let limit = q
        .limit
        .unwrap_or(DEFAULT_EVENT_LIMIT)
        .clamp(1, MAX_EVENT_LIMIT);
    let wait = Duration::from_millis(q.wait_ms.unwrap_or(0)).min(MAX_WAIT);
    let deadline = Instant::now() + wait;
    let mut rx = st.ledger.subscribe();
    loop {
        rx.borrow_and_update();
        let events = blocking(&st, move |l| l.store().events_from(from, limit))
            .await?
            .map_err(ApiError::internal)?;
        if !events.is_empty() {
            let next = events.last().map_or(from, |e| e.cursor);
            return Ok(Json(EventsResponse { events, next }));
        }
        if !wait_for_commit(&mut rx, deadline, st.forwarder.shutdown()).await {
            let next = after.unwrap_or(EventCursor {
                height: 0,
                index: 0,
            });
            return Ok(Json(EventsResponse {
                events: Vec::new(),
                next,
            }));
        }
    }
}

fn wants_bcs(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/octet-stream"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BlockQuery {
    /// Wait up to this long (capped at the server's maximum) for a height not committed yet.
    wait_ms: Option<u64>,
}

/// `GET /v1/blocks/{height}` (or `latest`): JSON, or BCS with `Accept: application/octet-stream`.
/// With `wait_ms`, a height just past the tip is a long poll: the answer comes as soon as that
/// block commits (followers see a block when it commits instead of at their next poll).
pub(super) async fn block(
    State(st): State<AppState>,
    Path(height): Path<String>,
    q: Result<Query<BlockQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let wait = Duration::from_millis(query(q)?.wait_ms.unwrap_or(0)).min(MAX_WAIT);
    let height: u64 = if height == "latest" {
        st.ledger.tip().height
    } else {
        parse("height", &height)?
    };
    let deadline = Instant::now() + wait;
    let mut rx = st.ledger.subscribe();
    let record = loop {
        rx.borrow_and_update();
        let record = match height {
            0 => None,
            h => blocking(&st, move |l| l.store().block(h))
                .await?
                .map_err(ApiError::internal)?,
        };
        // Only the next height is waited for: a client far ahead of the chain is answered now.
        let next = st.ledger.tip().height.saturating_add(1);
        if record.is_some()
            || height != next
            || !wait_for_commit(&mut rx, deadline, st.forwarder.shutdown()).await
        {
            break record;
        }
    }
    .ok_or_else(|| ApiError::not_found("unknown_block", format!("no block at height {height}")))?;
    if wants_bcs(&headers) {
        Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            floe_common::codec::encode(&record),
        )
            .into_response())
    } else {
        Ok(Json(record).into_response())
    }
}

/// `GET /v1/validators`.
pub(super) async fn validators(State(st): State<AppState>) -> Json<ValidatorSet> {
    Json(st.ledger.validators().clone())
}

/// `GET /v1/genesis`.
pub(super) async fn genesis(State(st): State<AppState>) -> Json<Genesis> {
    Json(st.ledger.genesis().clone())
}

/// `GET /v1/health`.
pub(super) async fn health(State(st): State<AppState>) -> Json<HealthResponse> {
    let tip = st.ledger.tip();
    Json(HealthResponse {
        chain_id: st.ledger.chain_id().to_owned(),
        height: tip.height,
        block_hash: tip.block_hash,
        mempool: st.ledger.mempool_len(),
        validators: st.ledger.validators().validators().len(),
    })
}
