//! Integration tests: render_data.
