"""Command-line edges of Teapot: ``teapot apiserver``, ``teapot up``, ``teapot crds``, ``teapot fleet`` …"""
