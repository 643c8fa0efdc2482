"""The home-care monitoring report: figures per station per day, rolled up to the TTYT and the Sở Y tế."""
