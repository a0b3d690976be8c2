"""Presentation shared by the app and the board pack: formatting, chart builders, tile and
sentence models. No Streamlit import here (a test pins it); it reads ``metrics`` only."""
