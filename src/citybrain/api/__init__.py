"""citybrain.api"""
