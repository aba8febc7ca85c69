//! Rendering for redis.

use anyhow::Result;

use super::{Context, RenderedFile};

/// Renders the redis files for a policy.
pub fn render(_ctx: &Context) -> Result<Vec<RenderedFile>> {
    Ok(Vec::new())
}
