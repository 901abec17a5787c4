//! Blob objects on the ledger: list a wallet's, extend, delete, transfer, share (and fund and
//! extend shared blobs), burn. (Storing and reading blob data goes to the storage nodes and
//! lives elsewhere.)

use floe_common::{Frost, ObjectId};
use floe_ledger_types::{Address, BlobObject, MAX_BURN_BLOBS, Object, SharedBlob, TxError, TxKind};
use serde::Serialize;

use super::{Floe, Receipt};
use crate::error::FloeError;

/// A blob object and its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnedBlob {
    /// The blob object's id (what `extend` and `delete` take).
    pub object_id: ObjectId,
    /// The blob object.
    #[serde(flatten)]
    pub blob: BlobObject,
}

impl Floe {
    /// The blob objects owned by `address`, in object id order (expired ones included until
    /// they are deleted).
    pub async fn blobs_of(&self, address: &Address) -> Result<Vec<OwnedBlob>, FloeError> {
        let objects = self
            .ledger
            .account_objects(address)
            .await
            .map_err(|e| self.err("list_blobs", e))?;
        Ok(objects
            .into_iter()
            .filter_map(|o| match o.object {
                Object::Blob(blob) => Some(OwnedBlob {
                    object_id: o.object_id,
                    blob,
                }),
                _ => None,
            })
            .collect())
    }

    /// Refuses `step` before anything is signed (a transaction that fails on the ledger still
    /// pays its fee) when `object` is missing (`unknown_object`), shared although `step` needs
    /// an owned blob (`blob_shared`), or not of a kind `accept` takes (`wrong_object_type`,
    /// expecting `expected`). Returns the object.
    async fn ensure_object(
        &self,
        step: &'static str,
        object: ObjectId,
        expected: &'static str,
        accept: fn(&Object) -> bool,
    ) -> Result<Object, FloeError> {
        match self
            .ledger
            .object(&object)
            .await
            .map_err(|e| self.err(step, e))?
        {
            Some(o) if accept(&o.object) => Ok(o.object),
            Some(o) if expected == "blob" && matches!(o.object, Object::SharedBlob(_)) => {
                Err(FloeError::rejected(step, TxError::BlobShared(object)))
            }
            Some(_) => Err(FloeError::rejected(
                step,
                TxError::WrongObjectType {
                    object,
                    expected: expected.into(),
                },
            )),
            None => Err(FloeError::rejected(step, TxError::UnknownObject(object))),
        }
    }

    /// [`Floe::ensure_object`] for an owned blob object.
    async fn ensure_blob_object(
        &self,
        step: &'static str,
        object: ObjectId,
    ) -> Result<BlobObject, FloeError> {
        match self
            .ensure_object(step, object, "blob", |o| matches!(o, Object::Blob(_)))
            .await?
        {
            Object::Blob(b) => Ok(b),
            _ => unreachable!("accepted blob objects only"),
        }
    }

    /// The shared blob `object`, or `None` if there is no such object (another kind of object
    /// is refused with `wrong_object_type`).
    pub async fn shared_blob(&self, object: ObjectId) -> Result<Option<SharedBlob>, FloeError> {
        match self
            .ensure_object("shared_blob", object, "shared_blob", |o| {
                matches!(o, Object::SharedBlob(_))
            })
            .await
        {
            Ok(Object::SharedBlob(s)) => Ok(Some(s)),
            Err(e) if e.code() == "unknown_object" => Ok(None),
            Err(e) => Err(e),
            Ok(_) => unreachable!("accepted shared blobs only"),
        }
    }

    /// The wallet's blob objects.
    pub async fn list_blobs(&self) -> Result<Vec<OwnedBlob>, FloeError> {
        let address = self.signer("list_blobs")?.address();
        self.blobs_of(&address).await
    }

    /// Extends the certified blob object (or shared blob) `object` by `epochs` epochs, paying
    /// the current storage price from the wallet (anyone may pay to extend any blob).
    pub async fn extend_blob(&self, object: ObjectId, epochs: u32) -> Result<Receipt, FloeError> {
        self.ensure_object("extend", object, "blob", |o| o.as_blob().is_some())
            .await?;
        self.execute(
            "extend",
            TxKind::ExtendBlob {
                blob_object: object,
                epochs_ahead: epochs,
            },
        )
        .await
    }

    /// Deletes the wallet's deletable blob object `object`; its remaining storage comes back as
    /// a storage object (in the receipt's created objects).
    pub async fn delete_blob(&self, object: ObjectId) -> Result<Receipt, FloeError> {
        self.ensure_blob_object("delete", object).await?;
        self.execute(
            "delete",
            TxKind::DeleteBlob {
                blob_object: object,
            },
        )
        .await
    }

    /// Gives the wallet's blob object `object` to `to` (registered, certified or expired alike).
    pub async fn transfer_blob(&self, object: ObjectId, to: Address) -> Result<Receipt, FloeError> {
        self.ensure_blob_object("transfer_blob", object).await?;
        self.execute(
            "transfer_blob",
            TxKind::TransferBlob {
                blob_object: object,
                to,
            },
        )
        .await
    }

    /// Turns the wallet's certified blob object `object` into a shared blob holding `amount`
    /// of the wallet's WAL (zero allowed): from then on anyone may fund it and extend it from
    /// its funds, and nobody may delete it. It keeps its object id.
    pub async fn share_blob(&self, object: ObjectId, amount: Frost) -> Result<Receipt, FloeError> {
        self.ensure_blob_object("share_blob", object).await?;
        self.execute(
            "share_blob",
            TxKind::ShareBlob {
                blob_object: object,
                amount,
            },
        )
        .await
    }

    /// Adds `amount` of the wallet's WAL to the funds of the shared blob `shared`.
    pub async fn fund_shared_blob(
        &self,
        shared: ObjectId,
        amount: Frost,
    ) -> Result<Receipt, FloeError> {
        self.ensure_object("fund_shared_blob", shared, "shared_blob", |o| {
            matches!(o, Object::SharedBlob(_))
        })
        .await?;
        self.execute(
            "fund_shared_blob",
            TxKind::FundSharedBlob { shared, amount },
        )
        .await
    }

    /// Extends the shared blob `shared` by `epochs` epochs, paid from its funds (the wallet
    /// pays only the fee).
    pub async fn extend_shared_blob(
        &self,
        shared: ObjectId,
        epochs: u32,
    ) -> Result<Receipt, FloeError> {
        self.ensure_object("extend_shared", shared, "shared_blob", |o| {
            matches!(o, Object::SharedBlob(_))
        })
        .await?;
        self.execute(
            "extend_shared",
            TxKind::ExtendSharedBlob {
                shared,
                epochs_ahead: epochs,
            },
        )
        .await
    }

    /// Burns the wallet's blob objects `objects` in one transaction, all or none: expired ones
    /// (and invalidated permanent ones) are removed, live deletable ones deleted (their storage
    /// comes back), a live permanent one refuses the whole list. At most [`MAX_BURN_BLOBS`].
    pub async fn burn_blobs(&self, objects: &[ObjectId]) -> Result<Receipt, FloeError> {
        if objects.len() > MAX_BURN_BLOBS {
            return Err(FloeError::rejected(
                "burn",
                TxError::too_large("blob_objects", objects.len() as u64, MAX_BURN_BLOBS as u64),
            ));
        }
        self.execute(
            "burn",
            TxKind::BurnBlobs {
                blob_objects: objects.to_vec(),
            },
        )
        .await
    }

    /// Sets (inserts or replaces) the attribute `key` of the wallet's blob object `object`
    /// (for example `content-type`, which `floe daemon` serves as a header).
    pub async fn set_blob_attribute(
        &self,
        object: ObjectId,
        key: &str,
        value: &str,
    ) -> Result<Receipt, FloeError> {
        self.execute(
            "set_attribute",
            TxKind::SetBlobAttribute {
                blob_object: object,
                key: key.to_owned(),
                value: value.to_owned(),
            },
        )
        .await
    }

    /// Removes the attribute `key` of the wallet's blob object `object`.
    pub async fn remove_blob_attribute(
        &self,
        object: ObjectId,
        key: &str,
    ) -> Result<Receipt, FloeError> {
        self.execute(
            "remove_attribute",
            TxKind::RemoveBlobAttribute {
                blob_object: object,
                key: key.to_owned(),
            },
        )
        .await
    }
}
