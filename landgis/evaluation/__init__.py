"""亩均效益综合评价: policies as validated YAML files, scoring, stored runs and their explanation."""
