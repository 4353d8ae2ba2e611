"""citybrain.protocols"""
