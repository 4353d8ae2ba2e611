"""citybrain.sim"""
