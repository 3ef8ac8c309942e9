"""Build tiny, randomly initialised diffusers pipelines on disk - never a download.

Tests (and the demo) need a *real* Stable Diffusion pipeline to exercise the diffusers backend's
loading, verification and inference code paths, but no weights may be fetched. These builders make
architecturally faithful miniatures (VAE with 4 blocks, so ``vae_scale_factor`` is 8 as in real SD;
~1 M parameters) and save them with ``save_pretrained`` so the backend loads them exactly as it loads a
user's weights. Output is noise: that is expected.

transformers 5.x trap (stack notes 5): ``CLIPTokenizer(vocab_file=..., merges_file=...)`` is
silently ignored; the tokenizer is built from an in-memory byte-level vocabulary instead.
"""

from __future__ import annotations

from pathlib import Path

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MAX_TOKENS = 77


def _byte_unicode_chars() -> list[str]:
    """The 256 printable stand-ins GPT-2/CLIP use for raw bytes (written from the published scheme)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    chars = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def byte_level_vocab() -> dict[str, int]:
    """Character-level CLIP vocabulary: every byte, its end-of-word form, plus BOS/EOS (514 tokens)."""
    chars = _byte_unicode_chars()
    tokens = chars + [c + "</w>" for c in chars] + [BOS, EOS]
    return {token: index for index, token in enumerate(tokens)}


def _tokenizer():
    from transformers import CLIPTokenizer

    return CLIPTokenizer(vocab=byte_level_vocab(), merges=[], model_max_length=MAX_TOKENS,
                         bos_token=BOS, eos_token=EOS, unk_token=EOS, pad_token=EOS)


def _text_encoder(vocab: dict[str, int], seed: int):
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    return CLIPTextModel(CLIPTextConfig(
        hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, vocab_size=len(vocab),
        bos_token_id=vocab[BOS], eos_token_id=vocab[EOS], pad_token_id=vocab[EOS],
        max_position_embeddings=MAX_TOKENS, projection_dim=32))


UNET_BLOCKS = (32, 64)
VAE_OUTPUT_GAIN = 0.15


def _unet(seed: int):
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    return UNet2DConditionModel(
        block_out_channels=UNET_BLOCKS, layers_per_block=1, sample_size=64, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8)


def _vae(seed: int):
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    vae = AutoencoderKL(block_out_channels=[16, 16, 16, 16], in_channels=3, out_channels=3,
                        down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                        latent_channels=4, norm_num_groups=8, sample_size=512)
    # random decoders emit full-contrast per-pixel noise (std ~45 grey levels), unlike any picture a
    # trained model makes; damp the last layer so frames are low-contrast texture (std ~6) around mid-grey
    with torch.no_grad():
        vae.decoder.conv_out.weight.mul_(VAE_OUTPUT_GAIN)
        vae.decoder.conv_out.bias.zero_()
    return vae


def build_tiny_sd(directory: Path | str, *, seed: int = 0) -> Path:
    """Save a tiny StableDiffusionPipeline (text2img; img2img and inpaint reuse its components).

    Deterministic for a given ``seed``, so two builds give identical weights (and weights digest)."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

    directory = Path(directory)
    tokenizer = _tokenizer()
    pipe = StableDiffusionPipeline(
        vae=_vae(seed), text_encoder=_text_encoder(tokenizer.get_vocab(), seed + 1), tokenizer=tokenizer,
        unet=_unet(seed + 2), scheduler=EulerDiscreteScheduler(), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    directory.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(directory, safe_serialization=True)
    return directory


def build_tiny_controlnet(directory: Path | str, *, seed: int = 0) -> Path:
    """Save a tiny ControlNetModel matching ``build_tiny_sd``'s UNet (for the controlnet-depth mode).

    Put it inside the pipeline directory (e.g. ``<pipeline>/controlnet``) so the weights digest covers it."""
    import torch
    from diffusers import ControlNetModel

    directory = Path(directory)
    torch.manual_seed(seed + 3)
    controlnet = ControlNetModel(
        block_out_channels=UNET_BLOCKS, layers_per_block=1, in_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), cross_attention_dim=32, attention_head_dim=8,
        norm_num_groups=8, conditioning_embedding_out_channels=(8, 16, 16, 32))  # 3 stride-2 convs: 1/8 like the latents
    # a fresh ControlNet starts with zero-initialised output convs (no effect on the UNet, by design for
    # fine-tuning); give them random weights so tests can see the depth map steer the result
    zero_convs = [controlnet.controlnet_cond_embedding.conv_out, controlnet.controlnet_mid_block,
                  *controlnet.controlnet_down_blocks]
    with torch.no_grad():
        for conv in zero_convs:
            torch.nn.init.normal_(conv.weight, std=0.05)
    directory.mkdir(parents=True, exist_ok=True)
    controlnet.save_pretrained(directory, safe_serialization=True)
    return directory


# ----------------------------------------------------------------------------- video (LTX-Video)

#: the tiny LTX VAE halves space and time twice (patch 1): 4x spatial, 4x temporal compression, so a
#: clip is 1 + 4k frames and its sides multiples of 4 (the real model: 32x and 8x)
TINY_LTX_LATENT_CHANNELS = 8


def _t5_encoder(vocab: dict[str, int], seed: int, *, umt5: bool = False):
    import torch
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    torch.manual_seed(seed)
    config, model = (UMT5Config, UMT5EncoderModel) if umt5 else (T5Config, T5EncoderModel)
    return model(config(vocab_size=len(vocab), d_model=32, d_kv=8, d_ff=37, num_layers=1, num_heads=4,
                                   relative_attention_num_buckets=8, pad_token_id=vocab[EOS],
                                   eos_token_id=vocab[EOS], decoder_start_token_id=vocab[EOS]))


def _ltx_vae(seed: int):
    import torch
    from diffusers import AutoencoderKLLTXVideo

    torch.manual_seed(seed)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=TINY_LTX_LATENT_CHANNELS, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False), decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4, upsample_factor=(1,) * 4, timestep_conditioning=False, patch_size=1,
        patch_size_t=1, encoder_causal=True, decoder_causal=False)
    vae.use_framewise_encoding = vae.use_framewise_decoding = False
    with torch.no_grad():  # low-contrast texture around mid-grey, as for the still VAE above
        vae.decoder.conv_out.conv.weight.mul_(VAE_OUTPUT_GAIN)
        vae.decoder.conv_out.conv.bias.zero_()
    return vae


def _ltx_transformer(seed: int):
    import torch
    from diffusers import LTXVideoTransformer3DModel

    torch.manual_seed(seed)
    return LTXVideoTransformer3DModel(
        in_channels=TINY_LTX_LATENT_CHANNELS, out_channels=TINY_LTX_LATENT_CHANNELS, patch_size=1, patch_size_t=1,
        num_attention_heads=4, attention_head_dim=8, cross_attention_dim=32, num_layers=1, caption_channels=32)


def build_tiny_ltx(directory: Path | str, *, seed: int = 0) -> Path:
    """Save a tiny LTXPipeline (text-to-video; image-to-video loads the same components).

    A T5 encoder as in LTX-Video, with the byte-level tokenizer above (nothing to download).
    Deterministic for a given ``seed``."""
    from diffusers import FlowMatchEulerDiscreteScheduler, LTXPipeline

    directory = Path(directory)
    tokenizer = _tokenizer()
    pipe = LTXPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=_ltx_vae(seed),
                       text_encoder=_t5_encoder(tokenizer.get_vocab(), seed + 1), tokenizer=tokenizer,
                       transformer=_ltx_transformer(seed + 2))
    directory.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(directory, safe_serialization=True)
    return directory


# ----------------------------------------------------------------------------- video (Wan, CogVideoX)

#: the tiny Wan VAE keeps the real model's compression (8x spatial, 4x temporal: 16-channel latents,
#: three halvings in space, two in time) at a few thousand parameters; its transformer patches 2x2,
#: so a clip's sides are multiples of 16 and its length 1 + 4k
TINY_WAN_LATENT_CHANNELS = 16


def _wan_vae(seed: int):
    import torch
    from diffusers import AutoencoderKLWan

    torch.manual_seed(seed)
    vae = AutoencoderKLWan(base_dim=3, z_dim=TINY_WAN_LATENT_CHANNELS, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    return vae  # its decoder is already low-contrast (std ~2 grey levels): no damping


def build_tiny_wan(directory: Path | str, *, seed: int = 0) -> Path:
    """Save a tiny WanPipeline (Wan 2.1/2.2 text-to-video layout: a UMT5-style T5 encoder, a 3D
    transformer, the causal Wan VAE). Deterministic for a given ``seed``."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel

    directory = Path(directory)
    tokenizer = _tokenizer()
    torch.manual_seed(seed + 2)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=TINY_WAN_LATENT_CHANNELS,
        out_channels=TINY_WAN_LATENT_CHANNELS, text_dim=32, freq_dim=32, ffn_dim=32, num_layers=1,
        rope_max_seq_len=32)
    pipe = WanPipeline(tokenizer=tokenizer, text_encoder=_t5_encoder(tokenizer.get_vocab(), seed + 1, umt5=True),
                       vae=_wan_vae(seed), scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
                       transformer=transformer)
    directory.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(directory, safe_serialization=True)
    return directory


#: the tiny CogVideoX VAE keeps the real compression: four blocks (8x spatial), time halved in two (4x temporal)
TINY_COG_LATENT_CHANNELS = 4


def _cogvideox_vae(seed: int):
    import torch
    from diffusers import AutoencoderKLCogVideoX

    torch.manual_seed(seed)
    vae = AutoencoderKLCogVideoX(
        block_out_channels=(8, 8, 8, 8), down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4, latent_channels=TINY_COG_LATENT_CHANNELS, layers_per_block=1,
        norm_num_groups=2, temporal_compression_ratio=4)
    with torch.no_grad():
        vae.decoder.conv_out.conv.weight.mul_(VAE_OUTPUT_GAIN)
        vae.decoder.conv_out.conv.bias.zero_()
    return vae


def build_tiny_cogvideox(directory: Path | str, *, seed: int = 0, image_to_video: bool = False) -> Path:
    """Save a tiny CogVideoXPipeline, or with ``image_to_video`` a CogVideoXImageToVideoPipeline.

    CogVideoX's image-to-video checkpoints are their own weights (the transformer reads the image's
    latents beside the noise: twice the input channels), so each mode is its own directory, as the
    published checkpoints are. Deterministic for a given ``seed``."""
    import torch
    from diffusers import (CogVideoXDDIMScheduler, CogVideoXImageToVideoPipeline, CogVideoXPipeline,
                           CogVideoXTransformer3DModel)

    directory = Path(directory)
    tokenizer = _tokenizer()
    torch.manual_seed(seed + 2)
    channels = TINY_COG_LATENT_CHANNELS
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=8, in_channels=channels * (2 if image_to_video else 1),
        out_channels=channels, time_embed_dim=8, text_embed_dim=32, num_layers=1, sample_width=32,
        sample_height=32, sample_frames=9, patch_size=2, temporal_compression_ratio=4, max_text_seq_length=226)
    kind = CogVideoXImageToVideoPipeline if image_to_video else CogVideoXPipeline
    pipe = kind(tokenizer=tokenizer, text_encoder=_t5_encoder(tokenizer.get_vocab(), seed + 1),
                vae=_cogvideox_vae(seed), transformer=transformer, scheduler=CogVideoXDDIMScheduler())
    directory.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(directory, safe_serialization=True)
    return directory
