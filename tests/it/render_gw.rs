//! Integration tests: render_gw.
