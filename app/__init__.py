"""The dashboard: Streamlit pages that call the leaktrace library (shipped as leaktrace.app)."""
