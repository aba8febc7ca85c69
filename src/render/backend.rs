//! Rendering for backend.

use anyhow::Result;

use super::{Context, RenderedFile};

/// Renders the backend files for a policy.
pub fn render(_ctx: &Context) -> Result<Vec<RenderedFile>> {
    Ok(Vec::new())
}
