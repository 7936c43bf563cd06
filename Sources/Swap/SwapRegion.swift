// PLACEHOLDER: the swap layer lands here.
public enum SwapPlaceholder {}
