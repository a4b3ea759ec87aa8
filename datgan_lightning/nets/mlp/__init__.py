from datgan_lightning.nets.mlp.mlp_2d import MLPDiscriminator, MLPGenerator

__all__ = ["MLPDiscriminator", "MLPGenerator"]
