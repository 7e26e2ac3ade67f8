use serde::{Deserialize, Serialize};

use super::{Credits, Tier};

/// Something a reseller can provision, at its base price, for the tiers allowed to sell it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub base_price: Credits,
    /// Tiers that may sell it; empty means every tier.
    #[serde(default)]
    pub tiers: Vec<Tier>,
}

impl Product {
    /// Whether a reseller of `tier` may provision this product.
    pub fn allows(&self, tier: Tier) -> bool {
        self.tiers.is_empty() || self.tiers.contains(&tier)
    }
}

/// The products on offer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalog(pub Vec<Product>);

impl Catalog {
    /// The product with this id.
    pub fn find(&self, id: &str) -> Option<&Product> {
        self.0.iter().find(|p| p.id == id)
    }
}
