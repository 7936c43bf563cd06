// PLACEHOLDER: the zram device lands here.
public enum ZramPlaceholder {}
