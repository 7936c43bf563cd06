// PLACEHOLDER: the zswap-style FrontswapCache lands here.
public enum ZSwapPlaceholder {}
