//! Access policies of private blobs: create one, edit an allowlist, pay for access, read one
//! (the rules: `floe_ledger_types::policy`).

use floe_common::{Frost, ObjectId};
use floe_ledger_types::policy::{AccessObject, PolicyObject, PolicyRule, access_object_id};
use floe_ledger_types::{Address, Event, Object, TxError, TxKind};
use serde::Serialize;

use super::{Floe, Receipt};
use crate::error::FloeError;

/// A policy and, for the wallet, its paid access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyView {
    /// The policy's object id.
    pub policy: ObjectId,
    /// The policy.
    #[serde(flatten)]
    pub object: PolicyObject,
    /// The wallet's paid access, if the policy is paid and the wallet paid once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessObject>,
}

/// The result of [`Floe::pay_for_access`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessReceipt {
    /// The policy.
    pub policy: ObjectId,
    /// What was paid to its owner.
    pub price: Frost,
    /// The first epoch without access.
    pub until: floe_common::Epoch,
    /// The transaction.
    pub receipt: Receipt,
}

impl Floe {
    /// Creates a policy owned by the wallet; returns its id.
    pub async fn create_policy(&self, rule: PolicyRule) -> Result<(ObjectId, Receipt), FloeError> {
        let receipt = self
            .execute("create_policy", TxKind::CreatePolicy { rule })
            .await?;
        Ok((receipt.created("policy")?, receipt))
    }

    /// Adds and removes members of an allowlist policy of the wallet.
    pub async fn update_allowlist(
        &self,
        policy: ObjectId,
        add: Vec<Address>,
        remove: Vec<Address>,
    ) -> Result<Receipt, FloeError> {
        self.execute(
            "update_allowlist",
            TxKind::UpdateAllowlist {
                policy,
                add,
                remove,
            },
        )
        .await
    }

    /// A policy (`unknown_object` / `wrong_object_type` as a typed refusal otherwise), with
    /// the wallet's paid access if it has a wallet.
    pub async fn policy(&self, policy: ObjectId) -> Result<PolicyView, FloeError> {
        let object = match self.object(&policy).await? {
            Some(o) => match o.object {
                Object::Policy(p) => p,
                _ => {
                    return Err(FloeError::rejected(
                        "policy",
                        TxError::WrongObjectType {
                            object: policy,
                            expected: "policy".into(),
                        },
                    ));
                }
            },
            None => {
                return Err(FloeError::rejected(
                    "policy",
                    TxError::UnknownObject(policy),
                ));
            }
        };
        let access = match (&object.rule, self.wallet()) {
            (PolicyRule::Paid { .. }, Some(w)) => {
                match self
                    .object(&access_object_id(&policy, &w.address()))
                    .await?
                {
                    Some(o) => match o.object {
                        Object::Access(a) => Some(a),
                        _ => None,
                    },
                    None => None,
                }
            }
            _ => None,
        };
        Ok(PolicyView {
            policy,
            object,
            access,
        })
    }

    /// Pays a paid policy's price for its epochs of access. Refused before signing when the
    /// policy is not paid or the balance does not cover the price and the fee; the price
    /// signed as the limit is the one read, so a change in between is refused by the ledger.
    pub async fn pay_for_access(&self, policy: ObjectId) -> Result<AccessReceipt, FloeError> {
        let view = self.policy(policy).await?;
        let PolicyRule::Paid { price, .. } = view.object.rule else {
            return Err(FloeError::rejected(
                "pay_for_access",
                TxError::WrongObjectType {
                    object: policy,
                    expected: "paid policy".into(),
                },
            ));
        };
        self.ensure_funds("pay_for_access", price).await?;
        let receipt = self
            .execute(
                "pay_for_access",
                TxKind::PayForAccess {
                    policy,
                    max_price: price,
                },
            )
            .await?;
        let until = receipt
            .effects
            .events
            .iter()
            .find_map(|e| match e {
                Event::AccessPaid { until, .. } => Some(*until),
                _ => None,
            })
            .ok_or(FloeError::MissingEffect {
                step: "pay_for_access",
                what: "access_paid event",
            })?;
        Ok(AccessReceipt {
            policy,
            price,
            until,
            receipt,
        })
    }
}
