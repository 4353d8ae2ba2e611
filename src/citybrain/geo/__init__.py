"""citybrain.geo"""
