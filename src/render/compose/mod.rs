//! Rendering for compose.

use anyhow::Result;

use super::{Context, RenderedFile};

/// Renders the compose files for a policy.
pub fn render(_ctx: &Context) -> Result<Vec<RenderedFile>> {
    Ok(Vec::new())
}
