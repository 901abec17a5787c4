//! TEMPORARY stand-in until the state-machine branch lands.
#![allow(missing_docs)]
use serde::{Deserialize, Serialize};

floe_common::fixed_bytes!(TxDigest, 32, floe_common::ids::TextForm::Hex);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTransaction {
    pub bytes: Vec<u8>,
}
impl SignedTransaction {
    pub fn digest(&self) -> TxDigest {
        TxDigest(*blake3::hash(&self.bytes).as_bytes())
    }
}
